//! What the runtime reports of its work, to whoever keeps metrics above it (the runtime keeps
//! none of its own beyond [`crate::ModelStats`]). Each call is made on the thread that did the
//! work and must be cheap.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{RuntimeError, VersionKey};

/// Receives the runtime's events. Every method does nothing by default.
pub trait Observer: Send + Sync + fmt::Debug {
    /// The observer of one version's requests, asked once when the version loads (so that
    /// reporting a request looks nothing up).
    fn version(&self, _key: &VersionKey) -> Arc<dyn VersionObserver> {
        Arc::new(NoObserver)
    }
    /// A load ended: its artifact's size when it loaded, the error when it did not.
    fn loaded(&self, _key: &VersionKey, _took: Duration, _result: Result<u64, &RuntimeError>) {}
    /// A loaded version was evicted from the cache.
    fn evicted(&self, _key: &VersionKey) {}
}

/// What one loaded version reports of its requests.
pub trait VersionObserver: Send + Sync + fmt::Debug {
    /// A request waited `waited` for a session, or in a batch, before its run started.
    fn queued(&self, _waited: Duration) {}
    /// A session run of `requests` requests took `took` (`ok`: it returned outputs).
    fn ran(&self, _requests: u64, _took: Duration, _ok: bool) {}
    /// A batch of `rows` rows (summed leading dimensions) was run.
    fn batched(&self, _rows: usize) {}
}

/// Reports to no one.
#[derive(Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}
impl VersionObserver for NoObserver {}
