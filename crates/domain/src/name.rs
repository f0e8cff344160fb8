use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a name, tag or version number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("model name must not be empty")]
    EmptyName,
    #[error("model name is {actual} characters long; at most {limit} are allowed")]
    NameTooLong { limit: usize, actual: usize },
    #[error(
        "model name {name:?} is invalid: use lowercase letters, digits, '-', '_' and '.', starting with a letter or digit"
    )]
    InvalidName { name: String },
    #[error("tag {tag:?} is invalid: 1 to {limit} characters from letters, digits, '-', '_', '.', ':' and '/'")]
    InvalidTag { tag: String, limit: usize },
    #[error("{actual} tags given; at most {limit} are allowed")]
    TooManyTags { limit: usize, actual: usize },
    #[error(
        "version {input:?} is not a version number: use a positive integer such as 1 or 42 (or an alias where one is accepted)"
    )]
    InvalidVersion { input: String },
    #[error("alias {alias:?} is invalid: 1 to 63 lowercase letters, digits, '-' and '_', starting with a letter")]
    InvalidAlias { alias: String },
}

/// A model's name: 1 to 128 characters of `[a-z0-9._-]`, starting with a letter or digit.
///
/// The character set keeps names safe in URLs, object keys and log lines; a name is never used
/// as a filesystem path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelName(String);

impl ModelName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(input: &str) -> Result<Self, NameError> {
        if input.is_empty() {
            return Err(NameError::EmptyName);
        }
        if input.len() > Self::MAX_LEN {
            return Err(NameError::NameTooLong { limit: Self::MAX_LEN, actual: input.len() });
        }
        let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
        let first_ok = input.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !first_ok || !input.chars().all(valid_char) {
            return Err(NameError::InvalidName { name: input.to_owned() });
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ModelName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ModelName {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ModelName> for String {
    fn from(value: ModelName) -> Self {
        value.0
    }
}

/// A free-form label on a model or version, such as `nlp` or `team:search`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    pub const MAX_LEN: usize = 64;

    pub fn parse(input: &str) -> Result<Self, NameError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/');
        if input.is_empty() || input.len() > Self::MAX_LEN || !input.chars().all(valid_char) {
            return Err(NameError::InvalidTag { tag: input.to_owned(), limit: Self::MAX_LEN });
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Tag {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Tag> for String {
    fn from(value: Tag) -> Self {
        value.0
    }
}

/// A set of tags: at most 32, duplicates removed, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<Tag>);

impl Tags {
    pub const MAX_COUNT: usize = 32;

    pub fn parse<S: AsRef<str>>(input: &[S]) -> Result<Self, NameError> {
        let mut tags = input.iter().map(|t| Tag::parse(t.as_ref())).collect::<Result<Vec<_>, _>>()?;
        tags.sort();
        tags.dedup();
        if tags.len() > Self::MAX_COUNT {
            return Err(NameError::TooManyTags { limit: Self::MAX_COUNT, actual: tags.len() });
        }
        Ok(Self(tags))
    }

    pub fn as_slice(&self) -> &[Tag] {
        &self.0
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|t| t.0.clone()).collect()
    }
}

/// A version number within one model: assigned by the server, starting at 1, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VersionNumber(u32);

impl VersionNumber {
    pub fn new(value: u32) -> Option<Self> {
        (value > 0).then_some(Self(value))
    }

    pub fn parse(input: &str) -> Result<Self, NameError> {
        input
            .parse::<u32>()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| NameError::InvalidVersion { input: input.to_owned() })
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for VersionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_follow_the_documented_rule() {
        for ok in ["a", "fraud-detector", "resnet50.v2", "x_1", "9lives"] {
            assert!(ModelName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Upper", "-lead", ".hidden", "a/b", "../etc", "a b", "ünï"] {
            assert!(ModelName::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ModelName::parse(&"a".repeat(128)).map(|n| n.as_str().len()), Ok(128));
        assert_eq!(ModelName::parse(&"a".repeat(129)), Err(NameError::NameTooLong { limit: 128, actual: 129 }));
    }

    #[test]
    fn tags_are_deduplicated_sorted_and_bounded() {
        let tags = Tags::parse(&["b", "a", "b"]).map(|t| t.to_strings());
        assert_eq!(tags, Ok(vec!["a".to_owned(), "b".to_owned()]));
        assert!(Tags::parse(&["has space"]).is_err());
        let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
        assert!(matches!(Tags::parse(&many), Err(NameError::TooManyTags { .. })));
    }

    #[test]
    fn versions_are_positive_integers() {
        assert_eq!(VersionNumber::parse("7").map(VersionNumber::get), Ok(7));
        for bad in ["0", "-1", "latest", "1.0", ""] {
            assert!(VersionNumber::parse(bad).is_err(), "{bad}");
        }
    }
}

/// A named pointer to a version of a model, such as `staging` or `champion`: 1 to 63 characters
/// of `[a-z0-9_-]` starting with a letter, so that it is never mistaken for a version number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AliasName(String);

impl AliasName {
    pub const MAX_LEN: usize = 63;

    pub fn parse(input: &str) -> Result<Self, NameError> {
        let valid = input.len() <= Self::MAX_LEN
            && input.starts_with(|c: char| c.is_ascii_lowercase())
            && input.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'));
        if valid { Ok(Self(input.to_owned())) } else { Err(NameError::InvalidAlias { alias: input.to_owned() }) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AliasName {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AliasName> for String {
    fn from(value: AliasName) -> Self {
        value.0
    }
}

/// How a request names a version: by number, or through an alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VersionRef {
    Number(VersionNumber),
    Alias(AliasName),
}

impl VersionRef {
    /// A number (`3`) or an alias (`champion`).
    pub fn parse(input: &str) -> Result<Self, NameError> {
        if input.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
            VersionNumber::parse(input).map(Self::Number)
        } else {
            AliasName::parse(input).map(Self::Alias).map_err(|_| NameError::InvalidVersion { input: input.to_owned() })
        }
    }
}

impl fmt::Display for VersionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => n.fmt(f),
            Self::Alias(a) => a.fmt(f),
        }
    }
}

#[cfg(test)]
mod alias_tests {
    use super::*;

    #[test]
    fn aliases_are_never_numbers() {
        assert!(AliasName::parse("champion").is_ok());
        assert!(AliasName::parse("stage-2_b").is_ok());
        for bad in ["", "1st", "Prod", "-x", "a b", &"a".repeat(64)] {
            assert!(AliasName::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(VersionRef::parse("12"), Ok(VersionRef::Number(VersionNumber::new(12).expect("12"))));
        assert!(matches!(VersionRef::parse("staging"), Ok(VersionRef::Alias(_))));
        assert!(VersionRef::parse("0").is_err());
        assert!(VersionRef::parse("St@ging").is_err());
    }
}
