//! The one error of every use case: a stable code that says what went wrong and whose fault it
//! is, a message for people, and the cause chain for the log.
//!
//! Three kinds of fault, told apart by the code ([`ErrorCode::fault`]):
//! - the client's (a bad name, an unknown version, a conflict): the message says exactly what
//!   was wrong and how to fix it;
//! - the artifact's (an ONNX file that ONNX Runtime refuses, one past the inspection limits):
//!   the message says why;
//! - Depot's or its dependencies' (the database is down, a thread failed): the message is fixed
//!   and says nothing of the internals; the cause goes to the log only.
//!
//! The transports turn codes into their own statuses (`depot-api` has the HTTP table).

use std::error::Error as StdError;
use std::fmt;

use depot_catalog::CatalogError;
pub use depot_domain::error_chain;
use depot_domain::{AuthValueError, DigestError, MetadataError, NameError};
use depot_runtime::RuntimeError;
use depot_serialization::InspectError;
use depot_serialization::tensors::EncodingError;
use depot_storage::StorageError;

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request's: fixing the request fixes it.
    Client,
    /// The uploaded artifact's: a different artifact fixes it.
    Artifact,
    /// Depot's or a dependency's: retrying later, or an operator, fixes it.
    Server,
}

macro_rules! error_codes {
    ($($variant:ident => ($fault:ident, $code:literal)),+ $(,)?) => {
        /// Every error code a use case can fail with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant),+ }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The stable, machine-readable code, such as `model_not_found`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),+ }
            }

            pub fn fault(self) -> Fault {
                match self { $(ErrorCode::$variant => Fault::$fault),+ }
            }
        }
    };
}

error_codes! {
    InvalidRequest => (Client, "invalid_request"),
    InvalidModelName => (Client, "invalid_model_name"),
    InvalidVersion => (Client, "invalid_version"),
    InvalidTag => (Client, "invalid_tag"),
    InvalidMetadata => (Client, "invalid_metadata"),
    InvalidDigest => (Client, "invalid_digest"),
    InvalidCursor => (Client, "invalid_cursor"),
    DigestMismatch => (Client, "digest_mismatch"),
    MissingArtifact => (Client, "missing_artifact"),
    InvalidInput => (Client, "invalid_input"),
    InvalidBatching => (Client, "invalid_batching"),
    InvalidAlias => (Client, "invalid_alias"),
    InvalidCanary => (Client, "invalid_canary"),
    InvalidGrant => (Client, "invalid_grant"),
    InvalidPrincipal => (Client, "invalid_principal"),
    Unauthenticated => (Client, "unauthenticated"),
    Forbidden => (Client, "forbidden"),
    SelfApproval => (Client, "self_approval"),
    TooManyAttempts => (Client, "too_many_attempts"),
    ModelNotFound => (Client, "model_not_found"),
    VersionNotFound => (Client, "version_not_found"),
    RouteNotFound => (Client, "route_not_found"),
    AliasNotFound => (Client, "alias_not_found"),
    DeploymentNotFound => (Client, "deployment_not_found"),
    CanaryNotFound => (Client, "canary_not_found"),
    TokenNotFound => (Client, "token_not_found"),
    ApprovalNotFound => (Client, "approval_not_found"),
    MethodNotAllowed => (Client, "method_not_allowed"),
    ModelExists => (Client, "model_exists"),
    ModelNotEmpty => (Client, "model_not_empty"),
    TokenExists => (Client, "token_exists"),
    ApprovalClosed => (Client, "approval_closed"),
    VersionNotServable => (Client, "version_not_servable"),
    VersionInUse => (Client, "version_in_use"),
    NothingToRollBack => (Client, "nothing_to_roll_back"),
    ArtifactTooLarge => (Client, "artifact_too_large"),
    PayloadTooLarge => (Client, "payload_too_large"),
    UnsupportedFormat => (Artifact, "unsupported_format"),
    UnsupportedMediaType => (Client, "unsupported_media_type"),
    CorruptArtifact => (Artifact, "corrupt_artifact"),
    ArtifactLimitExceeded => (Artifact, "artifact_limit_exceeded"),
    ModelLoadFailed => (Artifact, "model_load_failed"),
    Overloaded => (Client, "overloaded"),
    ArtifactIntegrity => (Server, "artifact_integrity"),
    InferenceFailed => (Server, "inference_failed"),
    Unavailable => (Server, "unavailable"),
    Internal => (Server, "internal"),
}

/// A use case's failure.
#[derive(Debug)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), source: None }
    }

    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// Depot's own fault; the message is fixed, the cause goes to the log.
    pub fn internal(source: impl StdError + Send + Sync + 'static) -> Self {
        Self::new(ErrorCode::Internal, "internal error").with_source(source)
    }

    /// A dependency is down; the message names which, the cause goes to the log.
    pub fn unavailable(what: &str, source: impl StdError + Send + Sync + 'static) -> Self {
        Self::new(ErrorCode::Unavailable, format!("{what} is unavailable; retry later")).with_source(source)
    }

    /// `message: cause: cause`, the whole chain on one line, for the log.
    pub fn chain(&self) -> String {
        error_chain(self)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn StdError + 'static))
    }
}

/// An error that needs only its message: a foreign error's text kept as a cause.
#[derive(Debug)]
pub(crate) struct Cause(pub String);

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Cause {}

impl From<CatalogError> for Error {
    fn from(error: CatalogError) -> Self {
        let message = error.to_string();
        match error {
            CatalogError::ModelNotFound { .. } => Self::new(ErrorCode::ModelNotFound, message),
            CatalogError::VersionNotFound { .. } => Self::new(ErrorCode::VersionNotFound, message),
            CatalogError::ModelExists { .. } => Self::new(ErrorCode::ModelExists, message),
            CatalogError::ModelNotEmpty { .. } => Self::new(ErrorCode::ModelNotEmpty, message),
            CatalogError::InvalidCursor { .. } => Self::new(ErrorCode::InvalidCursor, message),
            CatalogError::AliasNotFound { .. } => Self::new(ErrorCode::AliasNotFound, message),
            CatalogError::NotDeployed { .. } => Self::new(ErrorCode::DeploymentNotFound, message),
            CatalogError::NoCanary { .. } => Self::new(ErrorCode::CanaryNotFound, message),
            CatalogError::NothingToRollBack { .. } => Self::new(ErrorCode::NothingToRollBack, message),
            CatalogError::VersionInUse { .. } => Self::new(ErrorCode::VersionInUse, message),
            CatalogError::TokenNotFound { .. } => Self::new(ErrorCode::TokenNotFound, message),
            CatalogError::TokenExists { .. } => Self::new(ErrorCode::TokenExists, message),
            CatalogError::ApprovalNotFound { .. } => Self::new(ErrorCode::ApprovalNotFound, message),
            CatalogError::ApprovalClosed { .. } => Self::new(ErrorCode::ApprovalClosed, message),
            CatalogError::UnstorableText(_) => Self::new(ErrorCode::InvalidRequest, message),
            CatalogError::Unavailable(_) => Self::unavailable("the database", error),
            CatalogError::Corrupt { .. } | CatalogError::Database(_) | CatalogError::Migrate(_) => {
                Self::internal(error)
            }
        }
    }
}

impl From<StorageError> for Error {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Backend { .. } => Self::unavailable("artifact storage", error),
            StorageError::NotFound { .. } | StorageError::Config { .. } | StorageError::Local { .. } => {
                Self::internal(error)
            }
        }
    }
}

impl From<InspectError> for Error {
    fn from(error: InspectError) -> Self {
        let message = error.to_string();
        match error {
            // The message lists the accepted formats.
            InspectError::Unrecognised { .. } => Self::new(ErrorCode::UnsupportedFormat, message),
            InspectError::CorruptOnnx { .. } => Self::new(ErrorCode::CorruptArtifact, message),
            // Not corrupt: too large or too deep for this server's limits, which the message names.
            InspectError::LimitExceeded { .. } => Self::new(ErrorCode::ArtifactLimitExceeded, message),
            InspectError::Io(_) => Self::internal(error),
        }
    }
}

impl From<RuntimeError> for Error {
    fn from(error: RuntimeError) -> Self {
        let message = error.to_string();
        match error {
            RuntimeError::Invalid(_) | RuntimeError::Unrepresentable { .. } => {
                Self::new(ErrorCode::InvalidInput, message)
            }
            RuntimeError::Overloaded { .. } => Self::new(ErrorCode::Overloaded, message),
            // Storage corruption or tampering: the digests go to the log, not to the client.
            RuntimeError::DigestMismatch { .. } => Self::new(
                ErrorCode::ArtifactIntegrity,
                "the stored artifact does not match its registered digest; it is not served",
            )
            .with_source(error),
            // ONNX Runtime refused the uploaded model (an operator it lacks, say): the artifact's
            // fault, so a 4xx that says why.
            RuntimeError::LoadFailed { .. } => Self::new(ErrorCode::ModelLoadFailed, message),
            RuntimeError::Fetch { .. } => Self::unavailable("artifact storage", error),
            RuntimeError::Inference { .. } => {
                Self::new(ErrorCode::InferenceFailed, "inference failed").with_source(error)
            }
            RuntimeError::Internal { .. }
            | RuntimeError::LibraryUnavailable { .. }
            | RuntimeError::InvalidConfig { .. } => Self::internal(error),
        }
    }
}

impl From<EncodingError> for Error {
    fn from(error: EncodingError) -> Self {
        Self::new(ErrorCode::InvalidInput, error.to_string())
    }
}

impl From<NameError> for Error {
    fn from(error: NameError) -> Self {
        let code = match error {
            NameError::EmptyName | NameError::NameTooLong { .. } | NameError::InvalidName { .. } => {
                ErrorCode::InvalidModelName
            }
            NameError::InvalidTag { .. } | NameError::TooManyTags { .. } => ErrorCode::InvalidTag,
            NameError::InvalidVersion { .. } => ErrorCode::InvalidVersion,
            NameError::InvalidAlias { .. } => ErrorCode::InvalidAlias,
        };
        Self::new(code, error.to_string())
    }
}

impl From<MetadataError> for Error {
    fn from(error: MetadataError) -> Self {
        let code = match error {
            MetadataError::NulCharacter { .. } => ErrorCode::InvalidRequest,
            _ => ErrorCode::InvalidMetadata,
        };
        Self::new(code, error.to_string())
    }
}

impl From<AuthValueError> for Error {
    fn from(error: AuthValueError) -> Self {
        let code = match error {
            AuthValueError::InvalidPattern { .. } | AuthValueError::GrantCount { .. } => ErrorCode::InvalidGrant,
            AuthValueError::InvalidPrincipal { .. } => ErrorCode::InvalidPrincipal,
            AuthValueError::MalformedToken => ErrorCode::Unauthenticated,
        };
        Self::new(code, error.to_string())
    }
}

impl From<DigestError> for Error {
    fn from(error: DigestError) -> Self {
        Self::new(ErrorCode::InvalidDigest, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "duplicate code {text}");
            assert!(text.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{text}");
        }
    }

    #[test]
    fn server_faults_carry_fixed_messages_and_keep_their_cause() {
        let error = Error::from(CatalogError::Corrupt { reason: "secret detail".into() });
        assert_eq!((error.code, error.message.as_str()), (ErrorCode::Internal, "internal error"));
        assert!(error.chain().contains("secret detail"), "{}", error.chain());

        let (expected, actual) = (depot_domain::Digest::of(b"a"), depot_domain::Digest::of(b"b"));
        let error = Error::from(RuntimeError::DigestMismatch { expected, actual });
        assert_eq!(error.code, ErrorCode::ArtifactIntegrity);
        assert!(!error.message.contains(&actual.to_string()), "{}", error.message);
        assert!(error.chain().contains(&actual.to_string()), "{}", error.chain());

        let error = Error::from(RuntimeError::Internal { reason: "the loading thread panicked".into() });
        assert_eq!((error.code, error.message.as_str()), (ErrorCode::Internal, "internal error"));
        let error = Error::from(RuntimeError::Inference { reason: "ort said no".into() });
        assert_eq!((error.code, error.message.as_str()), (ErrorCode::InferenceFailed, "inference failed"));
    }

    #[test]
    fn artifact_faults_say_why() {
        let error = Error::from(RuntimeError::LoadFailed { reason: "unknown operator Foo".into() });
        assert_eq!(error.code, ErrorCode::ModelLoadFailed);
        assert!(error.message.contains("unknown operator Foo"), "{}", error.message);
        let error = Error::from(InspectError::LimitExceeded { what: "nesting depth", limit: 32 });
        assert_eq!(error.code, ErrorCode::ArtifactLimitExceeded);
        assert_eq!(error.code.fault(), Fault::Artifact);
        assert!(error.message.contains("nesting depth") && error.message.contains("32"), "{}", error.message);
        let error = Error::from(InspectError::CorruptOnnx { reason: "truncated".into() });
        assert_eq!(error.code, ErrorCode::CorruptArtifact);
    }

    /// Every error of the crates beneath, adapted to the code a client sees.
    #[test]
    fn every_foreign_error_maps_to_its_code() {
        use depot_domain::{AliasName, ModelName, VersionNumber};
        let name = || ModelName::parse("m").expect("name");
        let version = VersionNumber::new(1).expect("version");
        let alias = AliasName::parse("champion").expect("alias");
        let catalog = [
            (CatalogError::ModelNotFound { name: name() }, ErrorCode::ModelNotFound),
            (CatalogError::VersionNotFound { name: name(), version }, ErrorCode::VersionNotFound),
            (CatalogError::ModelExists { name: name() }, ErrorCode::ModelExists),
            (CatalogError::ModelNotEmpty { name: name(), versions: 2 }, ErrorCode::ModelNotEmpty),
            (CatalogError::AliasNotFound { name: name(), alias }, ErrorCode::AliasNotFound),
            (CatalogError::NotDeployed { name: name() }, ErrorCode::DeploymentNotFound),
            (CatalogError::NoCanary { name: name() }, ErrorCode::CanaryNotFound),
            (CatalogError::NothingToRollBack { name: name(), version }, ErrorCode::NothingToRollBack),
            (
                CatalogError::VersionInUse { name: name(), version, users: vec!["alias x".into()] },
                ErrorCode::VersionInUse,
            ),
            (CatalogError::InvalidCursor { cursor: "x".into() }, ErrorCode::InvalidCursor),
            (CatalogError::TokenNotFound { id: "abc".into() }, ErrorCode::TokenNotFound),
            (
                CatalogError::TokenExists {
                    principal: depot_domain::Principal::parse("p").expect("p"),
                    name: "n".into(),
                },
                ErrorCode::TokenExists,
            ),
            (CatalogError::ApprovalNotFound { id: 1 }, ErrorCode::ApprovalNotFound),
            (CatalogError::ApprovalClosed { id: 1 }, ErrorCode::ApprovalClosed),
            (CatalogError::Corrupt { reason: "r".into() }, ErrorCode::Internal),
        ];
        for (error, code) in catalog {
            let shown = error.to_string();
            let mapped = Error::from(error);
            assert_eq!(mapped.code, code, "{shown}");
            if code.fault() == Fault::Client {
                assert_eq!(mapped.message, shown, "a client's error says what it is");
            }
        }
        let storage = [
            (StorageError::NotFound { key: "k".into() }, ErrorCode::Internal),
            (StorageError::Config { reason: "r".into() }, ErrorCode::Internal),
            (StorageError::Local { path: "p".into(), source: std::io::Error::other("x") }, ErrorCode::Internal),
        ];
        for (error, code) in storage {
            assert_eq!(Error::from(error).code, code);
        }
        let inspect = [
            (InspectError::Unrecognised { detail: "d".into() }, ErrorCode::UnsupportedFormat),
            (InspectError::CorruptOnnx { reason: "r".into() }, ErrorCode::CorruptArtifact),
            (InspectError::LimitExceeded { what: "w", limit: 1 }, ErrorCode::ArtifactLimitExceeded),
            (InspectError::Io(std::io::Error::other("disk")), ErrorCode::Internal),
        ];
        for (error, code) in inspect {
            assert_eq!(Error::from(error).code, code);
        }
        let runtime = [
            (RuntimeError::Unrepresentable { name: "x".into(), reason: "r".into() }, ErrorCode::InvalidInput),
            (RuntimeError::Overloaded { limit: 1 }, ErrorCode::Overloaded),
            (RuntimeError::LoadFailed { reason: "r".into() }, ErrorCode::ModelLoadFailed),
            (RuntimeError::Fetch { reason: "r".into() }, ErrorCode::Unavailable),
            (RuntimeError::Inference { reason: "r".into() }, ErrorCode::InferenceFailed),
            (RuntimeError::Internal { reason: "r".into() }, ErrorCode::Internal),
            (RuntimeError::InvalidConfig { reason: "r".into() }, ErrorCode::Internal),
            (RuntimeError::LibraryUnavailable { path: "/x".into(), reason: "r".into() }, ErrorCode::Internal),
        ];
        for (error, code) in runtime {
            assert_eq!(Error::from(error).code, code);
        }
        let names = [
            (NameError::EmptyName, ErrorCode::InvalidModelName),
            (NameError::NameTooLong { limit: 1, actual: 2 }, ErrorCode::InvalidModelName),
            (NameError::InvalidName { name: "n".into() }, ErrorCode::InvalidModelName),
            (NameError::InvalidTag { tag: "t".into(), limit: 1 }, ErrorCode::InvalidTag),
            (NameError::TooManyTags { limit: 1, actual: 2 }, ErrorCode::InvalidTag),
            (NameError::InvalidVersion { input: "v".into() }, ErrorCode::InvalidVersion),
            (NameError::InvalidAlias { alias: "a".into() }, ErrorCode::InvalidAlias),
        ];
        for (error, code) in names {
            assert_eq!(Error::from(error).code, code);
        }
        let digest = depot_domain::Digest::parse("x").expect_err("not a digest");
        assert_eq!(Error::from(digest).code, ErrorCode::InvalidDigest);
        let metadata = MetadataError::NonFiniteMetric { name: "auc".into() };
        assert_eq!(Error::from(metadata).code, ErrorCode::InvalidMetadata);
        // CatalogError::Unavailable and Database wrap sqlx errors, which this crate cannot make
        // (it does not know sqlx); their mapping is the two match arms above, untested here.
    }
}
