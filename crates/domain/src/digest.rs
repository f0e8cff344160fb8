use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a sha256 digest: expected 64 hexadecimal characters, optionally prefixed by 'sha256:'")]
pub struct DigestError {
    pub input: String,
}

/// A SHA-256 content digest. Artifacts are stored under their digest, so equal bytes are
/// stored once.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest([u8; 32]);

impl Digest {
    /// Accepts `sha256:<hex>` or bare hex, in either case.
    pub fn parse(input: &str) -> Result<Self, DigestError> {
        let hex_part = input.strip_prefix("sha256:").unwrap_or(input);
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| DigestError { input: input.to_owned() })?;
        Ok(Self(bytes))
    }

    pub fn of(data: &[u8]) -> Self {
        Self(sha2::Sha256::digest(data).into())
    }

    /// Lowercase hex, without prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Digest> for String {
    fn from(value: Digest) -> Self {
        value.to_string()
    }
}

/// Incremental SHA-256 over a stream of chunks.
#[derive(Debug, Default, Clone)]
pub struct Sha256Hasher {
    inner: sha2::Sha256,
    len: u64,
}

impl Sha256Hasher {
    pub fn update(&mut self, chunk: &[u8]) {
        self.inner.update(chunk);
        self.len += chunk.len() as u64;
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Digest {
        Digest(self.inner.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefixed_and_bare_hex_and_prints_prefixed() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let a = Digest::parse(empty).expect("bare");
        let b = Digest::parse(&format!("sha256:{}", empty.to_uppercase())).expect("prefixed");
        assert_eq!(a, b);
        assert_eq!(a, Digest::of(b""));
        assert_eq!(a.to_string(), format!("sha256:{empty}"));
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(&"g".repeat(64)).is_err());
    }

    #[test]
    fn streaming_hash_equals_one_shot() {
        let mut h = Sha256Hasher::default();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.len(), 11);
        assert_eq!(h.finish(), Digest::of(b"hello world"));
    }
}
