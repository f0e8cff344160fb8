//! The process-wide ONNX Runtime environment.
//!
//! ONNX Runtime allows one environment per process and `ort` loads one library per process, so
//! every [`Runtime`](crate::Runtime) shares the environment created by the first one; a second
//! runtime asking for a different library is refused rather than silently given the first.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ort::environment::Environment;
use ort::logging::LogLevel;

use crate::RuntimeError;

struct Loaded {
    path: PathBuf,
    environment: Environment,
}

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

/// Loads the library at `path` (once per process) and returns the environment.
pub(crate) fn environment(path: &Path) -> Result<Environment, RuntimeError> {
    let unavailable = |reason: String| RuntimeError::LibraryUnavailable { path: path.to_owned(), reason };
    let canonical = path.canonicalize().map_err(|e| unavailable(e.to_string()))?;
    if !canonical.is_file() {
        return Err(unavailable("not a file".to_owned()));
    }

    let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(loaded) = loaded.as_ref() {
        if loaded.path != canonical {
            return Err(unavailable(format!(
                "ONNX Runtime is already loaded from {} in this process, and only one library can be loaded",
                loaded.path.display()
            )));
        }
        return Ok(loaded.environment.clone());
    }

    let environment = ort::init_from(&canonical)
        .map_err(|e| unavailable(depot_domain::error_chain(&e)))?
        .with_name("depot")
        .with_telemetry(false)
        .with_logger(Arc::new(forward_to_tracing))
        .build()
        .map_err(|e| unavailable(format!("creating the ONNX Runtime environment failed: {e}")))?;
    // A custom logger starts at verbose; ONNX Runtime's info and verbose lines are noise here.
    environment.set_log_level(LogLevel::Warning);
    *loaded = Some(Loaded { path: canonical, environment: environment.clone() });
    Ok(environment)
}

/// ONNX Runtime's own log lines, as `tracing` events with target `ort`.
fn forward_to_tracing(level: LogLevel, category: &str, id: &str, location: &str, message: &str) {
    match level {
        LogLevel::Verbose => tracing::trace!(target: "ort", category, id, location, "{message}"),
        LogLevel::Info => tracing::debug!(target: "ort", category, id, location, "{message}"),
        LogLevel::Warning => tracing::warn!(target: "ort", category, id, location, "{message}"),
        LogLevel::Error | LogLevel::Fatal => tracing::error!(target: "ort", category, id, location, "{message}"),
    }
}
