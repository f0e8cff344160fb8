//! Every error the API answers with, in one table: a stable machine-readable code, its HTTP
//! status, and one JSON body ([`ErrorBody`]).
//!
//! A 4xx body says exactly what was wrong and how to fix it. A 5xx body says little; the log
//! gets the whole cause chain.

use std::error::Error as StdError;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use depot_catalog::CatalogError;
use depot_domain::{DigestError, MetadataError, NameError};
use depot_runtime::RuntimeError;
use depot_serialization::InspectError;
use depot_serialization::tensors::EncodingError;
use depot_storage::StorageError;
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error response under `/v1`, `/healthz` and `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable error code, such as `model_not_found`.
    #[schema(example = "model_not_found")]
    pub code: &'static str,
    /// What went wrong, for people.
    #[schema(example = "model 'fraud' does not exist")]
    pub message: String,
}

macro_rules! error_codes {
    ($($variant:ident => ($status:ident, $code:literal)),+ $(,)?) => {
        /// Every error code the API can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($variant),+ }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status),+ }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),+ }
            }
        }
    };
}

error_codes! {
    InvalidRequest => (BAD_REQUEST, "invalid_request"),
    InvalidModelName => (BAD_REQUEST, "invalid_model_name"),
    InvalidVersion => (BAD_REQUEST, "invalid_version"),
    InvalidTag => (BAD_REQUEST, "invalid_tag"),
    InvalidMetadata => (BAD_REQUEST, "invalid_metadata"),
    InvalidDigest => (BAD_REQUEST, "invalid_digest"),
    InvalidCursor => (BAD_REQUEST, "invalid_cursor"),
    DigestMismatch => (BAD_REQUEST, "digest_mismatch"),
    MissingArtifact => (BAD_REQUEST, "missing_artifact"),
    InvalidInput => (BAD_REQUEST, "invalid_input"),
    InvalidBatching => (BAD_REQUEST, "invalid_batching"),
    InvalidAlias => (BAD_REQUEST, "invalid_alias"),
    InvalidCanary => (BAD_REQUEST, "invalid_canary"),
    ModelNotFound => (NOT_FOUND, "model_not_found"),
    VersionNotFound => (NOT_FOUND, "version_not_found"),
    RouteNotFound => (NOT_FOUND, "route_not_found"),
    AliasNotFound => (NOT_FOUND, "alias_not_found"),
    DeploymentNotFound => (NOT_FOUND, "deployment_not_found"),
    CanaryNotFound => (NOT_FOUND, "canary_not_found"),
    MethodNotAllowed => (METHOD_NOT_ALLOWED, "method_not_allowed"),
    ModelExists => (CONFLICT, "model_exists"),
    ModelNotEmpty => (CONFLICT, "model_not_empty"),
    VersionNotServable => (CONFLICT, "version_not_servable"),
    VersionInUse => (CONFLICT, "version_in_use"),
    NothingToRollBack => (CONFLICT, "nothing_to_roll_back"),
    ArtifactTooLarge => (PAYLOAD_TOO_LARGE, "artifact_too_large"),
    PayloadTooLarge => (PAYLOAD_TOO_LARGE, "payload_too_large"),
    UnsupportedFormat => (UNSUPPORTED_MEDIA_TYPE, "unsupported_format"),
    UnsupportedMediaType => (UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    CorruptArtifact => (UNPROCESSABLE_ENTITY, "corrupt_artifact"),
    ModelLoadFailed => (UNPROCESSABLE_ENTITY, "model_load_failed"),
    Overloaded => (TOO_MANY_REQUESTS, "overloaded"),
    ArtifactIntegrity => (INTERNAL_SERVER_ERROR, "artifact_integrity"),
    InferenceFailed => (INTERNAL_SERVER_ERROR, "inference_failed"),
    Unavailable => (SERVICE_UNAVAILABLE, "unavailable"),
    Internal => (INTERNAL_SERVER_ERROR, "internal"),
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl ApiError {
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

    fn internal(source: impl StdError + Send + Sync + 'static) -> Self {
        Self::new(ErrorCode::Internal, "internal error").with_source(source)
    }

    fn unavailable(what: &str, source: impl StdError + Send + Sync + 'static) -> Self {
        Self::new(ErrorCode::Unavailable, format!("{what} is unavailable; retry later")).with_source(source)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn StdError + 'static))
    }
}

/// `error: cause: cause`, for log lines.
pub fn error_chain(error: &dyn StdError) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error.code = self.code.as_str(), error.chain = %error_chain(self), "request failed");
        } else {
            tracing::debug!(error.code = self.code.as_str(), error.message = %self.message, "request refused");
        }
        HttpResponse::build(status).json(ErrorBody { code: self.code.as_str(), message: self.message.clone() })
    }
}

impl From<CatalogError> for ApiError {
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
            CatalogError::Unavailable(_) => Self::unavailable("the database", error),
            CatalogError::Corrupt { .. } | CatalogError::Database(_) | CatalogError::Migrate(_) => {
                Self::internal(error)
            }
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Backend { .. } => Self::unavailable("artifact storage", error),
            StorageError::NotFound { .. } | StorageError::Config { .. } => Self::internal(error),
        }
    }
}

impl From<InspectError> for ApiError {
    fn from(error: InspectError) -> Self {
        let message = error.to_string();
        match error {
            // The message lists the accepted formats.
            InspectError::Unrecognised { .. } => Self::new(ErrorCode::UnsupportedFormat, message),
            InspectError::CorruptOnnx { .. } => Self::new(ErrorCode::CorruptArtifact, message),
            InspectError::LimitExceeded { .. } => Self::new(ErrorCode::CorruptArtifact, message),
            InspectError::Io(_) => Self::internal(error),
        }
    }
}

impl From<RuntimeError> for ApiError {
    fn from(error: RuntimeError) -> Self {
        let message = error.to_string();
        match error {
            RuntimeError::Invalid(_) | RuntimeError::Unrepresentable { .. } => {
                Self::new(ErrorCode::InvalidInput, message)
            }
            RuntimeError::Overloaded { .. } => Self::new(ErrorCode::Overloaded, message),
            // Says which version and that it will not be served; no internals.
            RuntimeError::DigestMismatch { .. } => Self::new(ErrorCode::ArtifactIntegrity, message),
            // ONNX Runtime refused the uploaded model (an operator it lacks, say): the artifact's
            // fault, so a 4xx that says why.
            RuntimeError::LoadFailed { .. } => Self::new(ErrorCode::ModelLoadFailed, message),
            RuntimeError::Fetch { .. } => Self::unavailable("artifact storage", error),
            RuntimeError::Inference { .. } => {
                Self::new(ErrorCode::InferenceFailed, "inference failed").with_source(error)
            }
            RuntimeError::LibraryUnavailable { .. } | RuntimeError::InvalidConfig { .. } => Self::internal(error),
        }
    }
}

impl From<EncodingError> for ApiError {
    fn from(error: EncodingError) -> Self {
        Self::new(ErrorCode::InvalidInput, error.to_string())
    }
}

impl From<NameError> for ApiError {
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

impl From<MetadataError> for ApiError {
    fn from(error: MetadataError) -> Self {
        Self::new(ErrorCode::InvalidMetadata, error.to_string())
    }
}

impl From<DigestError> for ApiError {
    fn from(error: DigestError) -> Self {
        Self::new(ErrorCode::InvalidDigest, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use actix_web::body::MessageBody;

    use super::*;

    #[test]
    fn codes_are_unique_and_only_server_faults_are_5xx() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {}", code.as_str());
            let server_side = matches!(
                code,
                ErrorCode::Internal
                    | ErrorCode::Unavailable
                    | ErrorCode::ArtifactIntegrity
                    | ErrorCode::InferenceFailed
            );
            assert_eq!(code.status().is_server_error(), server_side, "{code:?}");
        }
    }

    #[test]
    fn client_errors_map_to_4xx_with_their_message() {
        let name = depot_domain::ModelName::parse("m").expect("valid");
        let error = ApiError::from(CatalogError::ModelNotFound { name });
        assert_eq!(error.code.status(), StatusCode::NOT_FOUND);
        assert!(error.message.contains("'m'"));
        let error = ApiError::from(InspectError::Unrecognised { detail: "no magic".into() });
        assert_eq!(error.code, ErrorCode::UnsupportedFormat);
        assert!(error.message.contains("onnx") && error.message.contains("pickle"), "{}", error.message);
        let error = ApiError::from(NameError::InvalidVersion { input: "x".into() });
        assert_eq!(error.code.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn server_errors_hide_their_cause_from_the_body() {
        let error = ApiError::from(CatalogError::Corrupt { reason: "secret detail".into() });
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = response.into_body().try_into_bytes().expect("json body");
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("secret detail"), "{text}");
        assert!(text.contains("\"internal\""), "{text}");
    }
}
