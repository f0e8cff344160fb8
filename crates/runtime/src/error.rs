use std::path::PathBuf;

use depot_domain::{Digest, ValidationError};

/// Everything the runtime can refuse or fail at, by whose fault: the configuration's or the
/// environment's at start-up, storage's, the artifact's, the request's, load (the server is
/// busy), or Depot's own. Cloneable, so one failed load or batched run can be reported to every
/// caller that waited on it; foreign errors are kept as their full cause chain in `reason`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuntimeError {
    /// The ONNX Runtime library is missing or cannot be loaded (a start-up error).
    #[error(
        "the ONNX Runtime library {} is unavailable: {reason}. Run scripts/fetch-onnxruntime.sh to fetch it, \
         or point the runtime's library_path at libonnxruntime.so.1.31.0",
        path.display()
    )]
    LibraryUnavailable { path: PathBuf, reason: String },
    /// A configuration value the runtime cannot work with (a start-up error).
    #[error("invalid runtime configuration: {reason}")]
    InvalidConfig { reason: String },
    /// The caller's `fetch` future failed; nothing is cached.
    #[error("fetching the model artifact failed: {reason}")]
    Fetch { reason: String },
    /// The fetched artifact is not the one registered (storage corruption or tampering); no
    /// session was created and nothing is cached.
    #[error("the model artifact's digest is {actual}, but {expected} was registered; the artifact is not loaded")]
    DigestMismatch { expected: Digest, actual: Digest },
    /// The artifact's fault: ONNX Runtime refused the model's bytes, the registered signature
    /// does not match the model's interface or cannot be served, or the warm-up run failed.
    /// Nothing is cached. Not for faults of the server (see [`RuntimeError::Internal`]).
    #[error("loading the model failed: {reason}")]
    LoadFailed { reason: String },
    /// The request's inputs do not fit the signature (a client error). The runtime itself does
    /// not return it: [`LoadedModel::infer`](crate::LoadedModel::infer) takes inputs already
    /// validated; it carries a [`ValidationError`] for callers that report one as a runtime
    /// error.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// An input fits the signature but holds a value ONNX Runtime cannot take (a client error).
    #[error("input {name:?} cannot be passed to ONNX Runtime: {reason}")]
    Unrepresentable { name: String, reason: String },
    /// Every session is busy and the version's queue is full: retry later (HTTP 429).
    #[error("too many requests are waiting for this model version (at most {limit} may wait); retry later")]
    Overloaded { limit: usize },
    /// ONNX Runtime failed while running a valid request or its output could not be read, or
    /// the inputs were validated against another version's signature.
    #[error("inference failed: {reason}")]
    Inference { reason: String },
    /// A fault of Depot or its environment, not of the artifact or the request: a loading or
    /// inference thread failed, ONNX Runtime could not set up a session (threads, log id), or
    /// an invariant of the runtime broke.
    #[error("internal runtime error: {reason}")]
    Internal { reason: String },
}

impl RuntimeError {
    pub(crate) fn load(reason: impl Into<String>) -> Self {
        Self::LoadFailed { reason: reason.into() }
    }

    pub(crate) fn inference(reason: impl Into<String>) -> Self {
        Self::Inference { reason: reason.into() }
    }

    pub(crate) fn internal(reason: impl Into<String>) -> Self {
        Self::Internal { reason: reason.into() }
    }
}
