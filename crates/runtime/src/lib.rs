//! Depot's model runtime: turns a registered ONNX artifact into warmed-up ONNX Runtime
//! sessions and serves inference on them.
//!
//! - [`Runtime`] loads the ONNX Runtime shared library ([`RuntimeConfig::library_path`]) and keeps
//!   a cache of loaded versions, bounded by count and artifact bytes, least recently used
//!   evicted first. [`Runtime::get_or_load`] loads a version once however many callers ask at
//!   the same time, and refuses an artifact whose SHA-256 is not the registered digest before
//!   creating any session.
//! - [`LoadedModel::infer`] validates the inputs against the version's signature, then runs them
//!   on one of the version's sessions, in the caller's tracing span: on the caller's thread when
//!   the run is predicted to take under [`RuntimeConfig::inline_run_max_us`] (the hand-off would
//!   cost more), else on a blocking thread, so that long runs never stall the executor. A
//!   version runs as many requests at once as it has sessions; when `max_queue_per_version`
//!   more already wait, a request is refused at once with [`RuntimeError::Overloaded`].
//! - With a [`BatchConfig`], concurrent requests to a version are concatenated along their
//!   leading dimension and run together.
//!
//! This is the only crate that knows ONNX Runtime (through `ort`); it knows nothing of HTTP,
//! SQL or object storage. The artifact's bytes come from the caller's `fetch` future, and
//! tensors cross its boundary as [`depot_domain::Tensor`].

mod batching;
mod config;
mod convert;
mod environment;
mod error;
mod model;
mod runtime;

pub use config::{BatchConfig, RuntimeConfig};
pub use error::RuntimeError;
pub use model::{LoadedModel, ModelStats, VersionKey};
pub use runtime::Runtime;
