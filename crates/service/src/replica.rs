//! What a replica knows of itself: whether it follows the database's changes, whether it has
//! loaded what is deployed, whether it is draining. Readiness is made of these, not of whether
//! the database answered just now: a replica that cannot reach the database keeps serving what
//! it last knew, so taking it out of its load balancer would turn a database blip into an
//! inference outage.

use std::sync::atomic::{AtomicBool, Ordering};

/// Shared by the use cases of one replica.
#[derive(Debug, Default)]
pub struct ReplicaState {
    following: AtomicBool,
    warmed: AtomicBool,
    draining: AtomicBool,
}

/// Whether this replica should get prediction traffic, and why (not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Not draining, and the deployed versions were loaded (or tried) at start.
    pub ready: bool,
    pub draining: bool,
    pub warmed: bool,
    /// The notification stream is connected: changes made elsewhere reach this replica. When
    /// false, the replica serves what it last knew.
    pub following: bool,
}

impl ReplicaState {
    /// Whether changes made through other replicas reach this one now.
    pub fn following(&self) -> bool {
        self.following.load(Ordering::Relaxed)
    }

    /// Records whether the notification stream is connected; returns what it was.
    pub(crate) fn set_following(&self, following: bool) -> bool {
        self.following.swap(following, Ordering::Relaxed)
    }

    pub(crate) fn set_warmed(&self) {
        self.warmed.store(true, Ordering::Relaxed);
    }

    /// From now on the replica answers not-ready, so that load balancers stop sending to it;
    /// it keeps serving what still comes.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn readiness(&self) -> Readiness {
        let draining = self.draining.load(Ordering::Relaxed);
        let warmed = self.warmed.load(Ordering::Relaxed);
        Readiness { ready: warmed && !draining, draining, warmed, following: self.following() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_once_warmed_until_draining_whatever_the_database() {
        let state = ReplicaState::default();
        assert!(!state.readiness().ready, "not before the deployed versions are loaded");
        state.set_warmed();
        assert!(state.readiness().ready, "ready without following: the database may be down");
        assert!(!state.set_following(true));
        assert!(state.readiness().following);
        state.start_draining();
        let readiness = state.readiness();
        assert!(!readiness.ready && readiness.draining);
    }
}
