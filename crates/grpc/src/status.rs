//! Every error code of the use cases as a gRPC status code: one table, as the REST API has one
//! of HTTP statuses.

use depot_service::{Error, ErrorCode};
use tonic::{Code, Status};

/// The metadata key carrying the error's code (`model_not_found`, ...), as REST's body does.
pub const ERROR_CODE: &str = "depot-error-code";

/// The gRPC code of every error code.
pub fn code(code: ErrorCode) -> Code {
    use ErrorCode::*;
    match code {
        InvalidRequest | InvalidModelName | InvalidVersion | InvalidTag | InvalidMetadata | InvalidDigest
        | InvalidCursor | DigestMismatch | MissingArtifact | InvalidInput | InvalidBatching | InvalidAlias
        | InvalidCanary | InvalidGrant | InvalidPrincipal | UnsupportedFormat | UnsupportedMediaType => {
            Code::InvalidArgument
        }
        Unauthenticated => Code::Unauthenticated,
        Forbidden | SelfApproval => Code::PermissionDenied,
        ModelNotFound | VersionNotFound | RouteNotFound | AliasNotFound | DeploymentNotFound | CanaryNotFound
        | TokenNotFound | ApprovalNotFound => Code::NotFound,
        MethodNotAllowed => Code::Unimplemented,
        ModelExists | TokenExists => Code::AlreadyExists,
        ModelNotEmpty
        | VersionNotServable
        | VersionInUse
        | NothingToRollBack
        | ApprovalClosed
        | CorruptArtifact
        | ArtifactLimitExceeded
        | ModelLoadFailed => Code::FailedPrecondition,
        ArtifactTooLarge | PayloadTooLarge | Overloaded | TooManyAttempts => Code::ResourceExhausted,
        Unavailable => Code::Unavailable,
        ArtifactIntegrity | InferenceFailed | Internal => Code::Internal,
    }
}

/// The status answering `error`: its code, the REST error's message, and its Depot code in
/// [`ERROR_CODE`].
pub fn status(error: &Error) -> Status {
    let mut status = Status::new(code(error.code), error.message.clone());
    if let Ok(value) = error.code.as_str().parse() {
        status.metadata_mut().insert(ERROR_CODE, value);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes a client must be able to tell apart, written out independently of [`code`].
    #[test]
    fn the_codes_clients_act_on() {
        let table = [
            (ErrorCode::InvalidInput, Code::InvalidArgument),
            (ErrorCode::InvalidModelName, Code::InvalidArgument),
            (ErrorCode::ModelNotFound, Code::NotFound),
            (ErrorCode::DeploymentNotFound, Code::NotFound),
            (ErrorCode::AliasNotFound, Code::NotFound),
            (ErrorCode::Overloaded, Code::ResourceExhausted),
            (ErrorCode::Unauthenticated, Code::Unauthenticated),
            (ErrorCode::Forbidden, Code::PermissionDenied),
            (ErrorCode::VersionNotServable, Code::FailedPrecondition),
            (ErrorCode::Unavailable, Code::Unavailable),
            (ErrorCode::Internal, Code::Internal),
        ];
        for (error, expected) in table {
            assert_eq!(code(error), expected, "{error:?}");
        }
        let status = status(&Error::new(ErrorCode::ModelNotFound, "model 'x' does not exist"));
        assert_eq!(status.message(), "model 'x' does not exist");
        assert_eq!(status.metadata().get(ERROR_CODE).unwrap(), "model_not_found");
    }
}
