//! Who may do what: roles, the permissions they give, grants of a role on a model-name pattern,
//! principals, and the text of an API token. Pure values: checking a grant touches nothing.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// Why a role, pattern, grant, principal or token text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthValueError {
    #[error(
        "model pattern {pattern:?} is invalid: use '*', a model name, or the start of one followed by '*' (such as 'fraud-*')"
    )]
    InvalidPattern { pattern: String },
    #[error(
        "principal {principal:?} is invalid: 1 to 64 characters of letters, digits, '.', '_', '-' and '@', starting with a letter or digit"
    )]
    InvalidPrincipal { principal: String },
    #[error("a token needs at least one grant and at most {limit}")]
    GrantCount { limit: usize },
    #[error("not a Depot token (expected depot_<12 hex>_<64 hex>)")]
    MalformedToken,
}

/// What a request wants to do to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// List, get, download, read the audit log and pending changes.
    Read,
    /// The prediction routes.
    Predict,
    /// Create models, push versions, edit metadata, move unprotected aliases.
    Push,
    /// Aliases, deployments, rollback, canaries, approving changes.
    Deploy,
    /// Delete, protect, manage tokens.
    Admin,
}

impl Permission {
    /// The least role that gives this permission, for error messages.
    pub fn least_role(self) -> Role {
        match self {
            Permission::Read => Role::Reader,
            Permission::Predict => Role::Predictor,
            Permission::Push => Role::Pusher,
            Permission::Deploy => Role::Deployer,
            Permission::Admin => Role::Admin,
        }
    }
}

/// A named set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// List, get, download, audit (and predict).
    Reader,
    /// The prediction routes only.
    Predictor,
    /// A reader who also creates models, pushes versions and edits metadata.
    Pusher,
    /// A reader who also moves aliases, deploys, rolls back and runs canaries.
    Deployer,
    /// Everything, including deleting, protecting and tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Reader, Role::Predictor, Role::Pusher, Role::Deployer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Predictor => "predictor",
            Role::Pusher => "pusher",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }

    /// Any grant allows predicting; pushing and deploying include reading; deleting is admin's
    /// alone (pushing a model gives no right to delete it).
    pub fn permits(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Reader => matches!(permission, Read | Predict),
            Role::Predictor => matches!(permission, Predict),
            Role::Pusher => matches!(permission, Read | Predict | Push),
            Role::Deployer => matches!(permission, Read | Predict | Deploy),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which models a grant covers: all (`*`), those whose name starts with a prefix (`fraud-*`),
/// or one by its exact name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelPattern(String);

impl ModelPattern {
    pub fn parse(input: &str) -> Result<Self, AuthValueError> {
        let invalid = || AuthValueError::InvalidPattern { pattern: input.to_owned() };
        let body = input.strip_suffix('*').unwrap_or(input);
        let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
        let first_ok = body.is_empty() || body.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
        if input.is_empty() || input.len() > 129 || !first_ok || !body.chars().all(valid_char) {
            return Err(invalid());
        }
        Ok(Self(input.to_owned()))
    }

    /// Every model.
    pub fn any() -> Self {
        Self("*".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn prefix(&self) -> Option<&str> {
        self.0.strip_suffix('*')
    }

    pub fn matches(&self, name: &str) -> bool {
        match self.prefix() {
            Some(prefix) => name.starts_with(prefix),
            None => name == self.0,
        }
    }

    /// Whether every model `other` covers is covered by this pattern too.
    pub fn contains(&self, other: &ModelPattern) -> bool {
        match (self.prefix(), other.prefix()) {
            (Some(mine), Some(theirs)) => theirs.starts_with(mine),
            (Some(mine), None) => other.0.starts_with(mine),
            (None, Some(_)) => false,
            (None, None) => self.0 == other.0,
        }
    }

    /// The pattern as an SQL `LIKE` pattern (escape character `\`).
    pub fn to_like(&self) -> String {
        let escape = |s: &str| s.replace('\\', "\\\\").replace('_', "\\_").replace('%', "\\%");
        match self.prefix() {
            Some(prefix) => format!("{}%", escape(prefix)),
            None => escape(&self.0),
        }
    }
}

impl fmt::Display for ModelPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ModelPattern {
    type Error = AuthValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ModelPattern> for String {
    fn from(value: ModelPattern) -> Self {
        value.0
    }
}

/// A role on the models a pattern covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    pub models: ModelPattern,
}

impl Grant {
    pub fn new(role: Role, models: ModelPattern) -> Self {
        Self { role, models }
    }
}

/// A token's grants: what its holder may do, model by model.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grants(Vec<Grant>);

impl Grants {
    pub const MAX: usize = 32;

    pub fn new(grants: Vec<Grant>) -> Result<Self, AuthValueError> {
        if grants.is_empty() || grants.len() > Self::MAX {
            return Err(AuthValueError::GrantCount { limit: Self::MAX });
        }
        let mut grants = grants;
        grants.dedup();
        Ok(Self(grants))
    }

    /// One grant.
    pub fn single(role: Role, models: ModelPattern) -> Self {
        Self(vec![Grant::new(role, models)])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Grant> {
        self.0.iter()
    }

    pub fn allows(&self, permission: Permission, model: &str) -> bool {
        self.0.iter().any(|g| g.role.permits(permission) && g.models.matches(model))
    }

    /// Whether `permission` is held on every model.
    pub fn allows_everywhere(&self, permission: Permission) -> bool {
        self.0.iter().any(|g| g.role.permits(permission) && g.models.as_str() == "*")
    }

    /// The patterns of the models on which `permission` is held (for filtering listings).
    pub fn patterns_for(&self, permission: Permission) -> Vec<&ModelPattern> {
        self.0.iter().filter(|g| g.role.permits(permission)).map(|g| &g.models).collect()
    }

    /// Whether an administrator with these grants may hand out `grant`: an admin grant must
    /// cover its models (admins delegate within what they administer).
    pub fn may_delegate(&self, grant: &Grant) -> bool {
        self.0.iter().any(|g| g.role == Role::Admin && g.models.contains(&grant.models))
    }
}

/// A person or a service account that holds tokens, such as `alice` or `ci-pipeline`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Principal(String);

impl Principal {
    pub fn parse(input: &str) -> Result<Self, AuthValueError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
        let first_ok = input.starts_with(|c: char| c.is_ascii_alphanumeric());
        if input.is_empty() || input.len() > 64 || !first_ok || !input.chars().all(valid_char) {
            return Err(AuthValueError::InvalidPrincipal { principal: input.to_owned() });
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Principal {
    type Error = AuthValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Principal> for String {
    fn from(value: Principal) -> Self {
        value.0
    }
}

/// The text of an API token: `depot_<id>_<secret>`. The id (12 hex digits) is public: it
/// names the token in listings, the audit log and the log. The secret (64 hex digits, 256
/// random bits) is shown once; only its SHA-256 is stored. The `depot_` prefix and the fixed
/// shape let secret scanners find a leaked token (`depot_[0-9a-f]{12}_[0-9a-f]{64}`).
pub struct TokenText<'a> {
    pub id: &'a str,
    secret: &'a str,
}

impl TokenText<'_> {
    pub const PREFIX: &'static str = "depot_";
    pub const ID_LEN: usize = 12;
    pub const SECRET_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<TokenText<'_>, AuthValueError> {
        let rest = text.strip_prefix(Self::PREFIX).ok_or(AuthValueError::MalformedToken)?;
        let (id, secret) = rest.split_once('_').ok_or(AuthValueError::MalformedToken)?;
        let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex(id, Self::ID_LEN) || !hex(secret, Self::SECRET_LEN) {
            return Err(AuthValueError::MalformedToken);
        }
        Ok(TokenText { id, secret })
    }

    /// A token's text from its random bytes.
    pub fn format(id: &[u8; 6], secret: &[u8; 32]) -> String {
        format!("{}{}_{}", Self::PREFIX, hex::encode(id), hex::encode(secret))
    }

    /// What is stored of the secret.
    pub fn secret_hash(&self) -> [u8; 32] {
        hash_secret(self.secret)
    }
}

/// Never prints the secret.
impl fmt::Debug for TokenText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenText").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The SHA-256 of a token's secret (hex text). A slow hash adds nothing for 256 random bits.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    sha2::Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> ModelPattern {
        ModelPattern::parse(s).unwrap()
    }

    #[test]
    fn patterns_match_all_a_prefix_or_one_name() {
        assert!(pattern("*").matches("anything"));
        assert!(pattern("fraud-*").matches("fraud-eu"));
        assert!(pattern("fraud-*").matches("fraud-"));
        assert!(!pattern("fraud-*").matches("fraud"));
        assert!(pattern("fraud").matches("fraud"));
        assert!(!pattern("fraud").matches("fraud-eu"));
        for bad in ["", "Fraud", "fr*ud", "**", "-x*", "a b", "fraud/*"] {
            assert!(ModelPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn containment_follows_the_covered_names() {
        assert!(pattern("*").contains(&pattern("fraud-*")));
        assert!(pattern("fraud-*").contains(&pattern("fraud-eu-*")));
        assert!(pattern("fraud-*").contains(&pattern("fraud-eu")));
        assert!(!pattern("fraud-*").contains(&pattern("*")));
        assert!(!pattern("fraud-eu").contains(&pattern("fraud-*")));
        assert!(!pattern("fraud-*").contains(&pattern("fraudulent")));
    }

    #[test]
    fn like_patterns_escape_underscores() {
        assert_eq!(pattern("a_b-*").to_like(), "a\\_b-%");
        assert_eq!(pattern("*").to_like(), "%");
        assert_eq!(pattern("x.y").to_like(), "x.y");
    }

    #[test]
    fn roles_give_what_the_issue_lists_and_deleting_is_admins_alone() {
        use Permission::*;
        let table = [
            (Role::Reader, [true, true, false, false, false]),
            (Role::Predictor, [false, true, false, false, false]),
            (Role::Pusher, [true, true, true, false, false]),
            (Role::Deployer, [true, true, false, true, false]),
            (Role::Admin, [true, true, true, true, true]),
        ];
        for (role, expected) in table {
            let actual = [Read, Predict, Push, Deploy, Admin].map(|p| role.permits(p));
            assert_eq!(actual, expected, "{role}");
        }
    }

    #[test]
    fn grants_check_role_and_model_together() {
        let grants = Grants::new(vec![
            Grant::new(Role::Deployer, pattern("fraud-*")),
            Grant::new(Role::Reader, pattern("churn")),
        ])
        .unwrap();
        assert!(grants.allows(Permission::Deploy, "fraud-eu"));
        assert!(!grants.allows(Permission::Deploy, "churn"));
        assert!(grants.allows(Permission::Read, "churn"));
        assert!(!grants.allows(Permission::Read, "other"));
        assert!(!grants.allows(Permission::Admin, "fraud-eu"));
        assert!(!grants.allows_everywhere(Permission::Read));
        assert!(Grants::new(vec![]).is_err());
        let admin = Grants::single(Role::Admin, pattern("fraud-*"));
        assert!(admin.may_delegate(&Grant::new(Role::Deployer, pattern("fraud-eu"))));
        assert!(!admin.may_delegate(&Grant::new(Role::Reader, pattern("*"))));
    }

    #[test]
    fn token_text_round_trips_and_refuses_anything_else() {
        let text = TokenText::format(&[0xab; 6], &[0x01; 32]);
        assert!(text.starts_with("depot_abababababab_0101"));
        let parsed = TokenText::parse(&text).unwrap();
        assert_eq!(parsed.id, "abababababab");
        assert_eq!(parsed.secret_hash(), hash_secret(&"01".repeat(32)));
        assert!(!format!("{parsed:?}").contains("0101"));
        for bad in
            ["", "depot_", "depot_abababababab", "ghp_abababababab_00", &text.to_uppercase(), &text[..text.len() - 1]]
        {
            assert!(TokenText::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn principals_are_names_of_people_or_services() {
        for ok in ["alice", "ci-pipeline", "alice@example.com", "svc.fraud_1"] {
            Principal::parse(ok).unwrap();
        }
        for bad in ["", "-x", "a b", "ali\u{0}ce", &"a".repeat(65)] {
            assert!(Principal::parse(bad).is_err(), "{bad:?}");
        }
    }
}
