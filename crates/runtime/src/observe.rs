//! What the runtime reports of its work, to whoever keeps metrics above it (the runtime keeps
//! none of its own beyond [`crate::ModelStats`]). Each call is made on the thread that did the
//! work and must be cheap.

use std::fmt;
use std::time::Duration;

use crate::{RuntimeError, VersionKey};

/// Receives the runtime's events. Every method does nothing by default.
pub trait Observer: Send + Sync + fmt::Debug {
    /// A request waited `waited` for a session, or in a batch, before its run started.
    fn queued(&self, _key: &VersionKey, _waited: Duration) {}
    /// A session run of `requests` requests took `took` (`ok`: it returned outputs).
    fn ran(&self, _key: &VersionKey, _requests: u64, _took: Duration, _ok: bool) {}
    /// A batch of `rows` rows (summed leading dimensions) was run.
    fn batched(&self, _key: &VersionKey, _rows: usize) {}
    /// A load ended: its artifact's size when it loaded, the error when it did not.
    fn loaded(&self, _key: &VersionKey, _took: Duration, _result: Result<u64, &RuntimeError>) {}
    /// A loaded version was evicted from the cache.
    fn evicted(&self, _key: &VersionKey) {}
}

/// Reports to no one.
#[derive(Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}
