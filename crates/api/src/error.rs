//! Every error the API answers with, in one table: each [`ErrorCode`] of the use cases gets
//! its HTTP status here ([`status`]), and one JSON body ([`ErrorBody`]).
//!
//! A 4xx body says exactly what was wrong and how to fix it. A 5xx body carries the fixed
//! message the use case gave it; the log line of the request gets the whole cause chain.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
pub use depot_service::{Error, ErrorCode, Fault};
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

/// The HTTP status of every error code: one table, for every route.
pub fn status(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidRequest | InvalidModelName | InvalidVersion | InvalidTag | InvalidMetadata | InvalidDigest
        | InvalidCursor | DigestMismatch | MissingArtifact | InvalidInput | InvalidBatching | InvalidAlias
        | InvalidCanary | InvalidGrant | InvalidPrincipal => StatusCode::BAD_REQUEST,
        Unauthenticated => StatusCode::UNAUTHORIZED,
        Forbidden | SelfApproval => StatusCode::FORBIDDEN,
        ModelNotFound | VersionNotFound | RouteNotFound | AliasNotFound | DeploymentNotFound | CanaryNotFound
        | TokenNotFound | ApprovalNotFound => StatusCode::NOT_FOUND,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ModelExists | ModelNotEmpty | VersionNotServable | VersionInUse | NothingToRollBack | TokenExists
        | ApprovalClosed => StatusCode::CONFLICT,
        ArtifactTooLarge | PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UnsupportedFormat | UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        CorruptArtifact | ArtifactLimitExceeded | ModelLoadFailed => StatusCode::UNPROCESSABLE_ENTITY,
        Overloaded | TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ArtifactIntegrity | InferenceFailed | Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A 401 asks for a bearer token (RFC 6750), in every error format.
pub(crate) fn challenge(response: &mut actix_web::HttpResponseBuilder, code: ErrorCode) {
    if code == ErrorCode::Unauthenticated {
        response.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer realm=\"depot\""));
    }
}

/// A use case's error on its way to becoming a response. The request's log line
/// ([`crate::telemetry`]) reports it, once.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(Error::new(code, message))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self(Error::invalid(message))
    }

    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    fn body(&self) -> ErrorBody {
        ErrorBody { code: self.0.code.as_str(), message: self.0.message.clone() }
    }
}

impl<E: Into<Error>> From<E> for ApiError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status(self.0.code)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        challenge(&mut response, self.0.code);
        response.json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;

    /// Every code with the status it must answer with, written out independently of [`status`].
    const TABLE: &[(&str, u16)] = &[
        ("invalid_request", 400),
        ("invalid_model_name", 400),
        ("invalid_version", 400),
        ("invalid_tag", 400),
        ("invalid_metadata", 400),
        ("invalid_digest", 400),
        ("invalid_cursor", 400),
        ("digest_mismatch", 400),
        ("missing_artifact", 400),
        ("invalid_input", 400),
        ("invalid_batching", 400),
        ("invalid_alias", 400),
        ("invalid_canary", 400),
        ("invalid_grant", 400),
        ("invalid_principal", 400),
        ("unauthenticated", 401),
        ("forbidden", 403),
        ("self_approval", 403),
        ("too_many_attempts", 429),
        ("token_not_found", 404),
        ("approval_not_found", 404),
        ("token_exists", 409),
        ("approval_closed", 409),
        ("model_not_found", 404),
        ("version_not_found", 404),
        ("route_not_found", 404),
        ("alias_not_found", 404),
        ("deployment_not_found", 404),
        ("canary_not_found", 404),
        ("method_not_allowed", 405),
        ("model_exists", 409),
        ("model_not_empty", 409),
        ("version_not_servable", 409),
        ("version_in_use", 409),
        ("nothing_to_roll_back", 409),
        ("artifact_too_large", 413),
        ("payload_too_large", 413),
        ("unsupported_format", 415),
        ("unsupported_media_type", 415),
        ("corrupt_artifact", 422),
        ("artifact_limit_exceeded", 422),
        ("model_load_failed", 422),
        ("overloaded", 429),
        ("artifact_integrity", 500),
        ("inference_failed", 500),
        ("unavailable", 503),
        ("internal", 500),
    ];

    fn body_of(response: HttpResponse) -> serde_json::Value {
        let body = response.into_body().try_into_bytes().expect("a complete body");
        serde_json::from_slice(&body).expect("a JSON body")
    }

    #[test]
    fn every_code_has_its_status_and_one_body_shape() {
        assert_eq!(ErrorCode::ALL.len(), TABLE.len(), "a code was added without a row here, or removed");
        for &code in ErrorCode::ALL {
            let &(_, expected) = TABLE
                .iter()
                .find(|(name, _)| *name == code.as_str())
                .unwrap_or_else(|| panic!("{} is missing from the table", code.as_str()));
            let error = ApiError::new(code, "what went wrong");
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), expected, "{}", code.as_str());
            let challenges = response.headers().contains_key(actix_web::http::header::WWW_AUTHENTICATE);
            assert_eq!(
                challenges,
                code == ErrorCode::Unauthenticated,
                "{}: only a 401 asks for a token",
                code.as_str()
            );
            assert_eq!(
                response.status().is_server_error(),
                code.fault() == Fault::Server,
                "{}: only Depot's own faults are 5xx",
                code.as_str()
            );
            let body = body_of(response);
            let object = body.as_object().expect("an object");
            assert_eq!(object.len(), 2, "{body}");
            assert_eq!(object["code"], code.as_str());
            assert_eq!(object["message"], "what went wrong");
        }
    }

    #[test]
    fn server_faults_answer_with_a_fixed_message() {
        let error = ApiError::from(depot_catalog_error("secret detail"));
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_of(response);
        assert_eq!(body, serde_json::json!({"code": "internal", "message": "internal error"}));
        assert!(error.0.chain().contains("secret detail"), "the log keeps the cause");
    }

    fn depot_catalog_error(reason: &str) -> depot_service::Error {
        // The catalog's "a stored row is invalid" is an internal fault.
        depot_service::Error::internal(std::io::Error::other(reason.to_owned()))
    }
}
