//! The canary's share of a model's version-less requests.

use std::sync::atomic::{AtomicU64, Ordering};

use depot_domain::{ModelName, VersionNumber};

use super::{Serving, Target};

/// Picks the version of one version-less request: the canary for its share of requests, but only
/// once the canary is loaded on this replica (until then it is loaded in the background).
pub(super) fn pick(serving: &Serving, model: &ModelName, target: Target) -> VersionNumber {
    let Some((canary, percent)) = target.canary else { return target.version };
    if spread() % 100 >= u64::from(percent) {
        return target.version;
    }
    // A lookup in the caches, not a listing of every loaded version on each request.
    if serving.is_loaded(model, canary) {
        return canary;
    }
    let (serving, model) = (serving.clone(), model.clone());
    tokio::spawn(async move {
        if let Err(error) = serving.preload(&model, canary).await {
            tracing::warn!(model.name = %model, model.version = %canary, error = %error.chain(), "canary could not be loaded");
        }
    });
    target.version
}

/// A well-spread sequence (splitmix64 of a counter): the canary share without a random crate.
fn spread() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let mut z = COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn the_spread_gives_each_percent_its_share() {
        let mut buckets = [0u32; 100];
        for _ in 0..100_000 {
            buckets[(spread() % 100) as usize] += 1;
        }
        // 1000 expected per bucket; a counter-based sequence that clustered would miss this.
        assert!(buckets.iter().all(|&n| (800..1200).contains(&n)), "{buckets:?}");
    }
}
