//! Garbage collection of the artifact store: blobs that no version references (a deletion that
//! crashed between its commit and its blob deletion, an upload that crashed between storing its
//! blob and committing its version) and staging objects of uploads that never finished (a
//! crash or a kill mid-upload).
//!
//! One sweeper at a time among every replica and `depot gc` (a PostgreSQL advisory lock elects
//! it). Safe against concurrent uploads and deletions: a blob is only removed under its digest
//! lock, after checking again that no version references it, and an upload holds that lock from
//! before its blob appears until its version row is committed. A staging object is removed only
//! once nothing has written to it for `staging_older_than`, longer than any live upload pauses.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use depot_catalog::Catalog;
use depot_domain::Digest;
use depot_storage::ArtifactStore;

use crate::error::Error;

/// What a sweep removes.
#[derive(Debug, Clone, Copy)]
pub struct SweepOptions {
    /// Report only; remove nothing.
    pub dry_run: bool,
    /// Staging objects last written longer ago than this are abandoned.
    pub staging_older_than: Duration,
}

/// What a sweep found (and, unless it was a dry run, removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub dry_run: bool,
    /// Blobs (or artifact rows) no version references, with the blob's size (0: only the row
    /// was left).
    pub orphan_blobs: Vec<(Digest, u64)>,
    /// Staging objects of abandoned uploads, with their sizes.
    pub stale_staging: Vec<(String, u64)>,
}

impl SweepReport {
    /// Bytes of storage the sweep freed (or would free).
    pub fn bytes(&self) -> u64 {
        self.orphan_blobs.iter().map(|(_, size)| size).chain(self.stale_staging.iter().map(|(_, size)| size)).sum()
    }
}

/// Sweeps when no one else is sweeping; `None` when another replica or `depot gc` holds the
/// sweep lock.
pub async fn sweep(
    catalog: &Catalog,
    store: &ArtifactStore,
    options: SweepOptions,
) -> Result<Option<SweepReport>, Error> {
    let Some(lock) = catalog.try_lock_sweep().await? else { return Ok(None) };
    let result = sweep_locked(catalog, store, options).await;
    lock.release().await;
    result.map(Some)
}

async fn sweep_locked(catalog: &Catalog, store: &ArtifactStore, options: SweepOptions) -> Result<SweepReport, Error> {
    let mut report = SweepReport { dry_run: options.dry_run, ..SweepReport::default() };

    let cutoff = Utc::now() - chrono::Duration::from_std(options.staging_older_than).unwrap_or(chrono::Duration::MAX);
    for object in store.list_staging().await? {
        if object.modified <= cutoff {
            if !options.dry_run {
                store.delete_staging(&object).await?;
            }
            report.stale_staging.push((object.key.clone(), object.size));
        }
    }

    // Listed before the references are read: a blob stored after this listing is not looked
    // at; one listed here and unreferenced is checked again under its digest lock.
    let mut candidates: BTreeMap<Digest, u64> =
        store.list_blob_objects().await?.into_iter().map(|blob| (blob.digest, blob.size)).collect();
    for digest in catalog.artifact_digests().await? {
        candidates.entry(digest).or_insert(0);
    }
    let referenced = catalog.referenced_digests().await?;
    candidates.retain(|digest, _| !referenced.contains(digest));
    for (digest, size) in candidates {
        let mut lock = catalog.lock_digest(digest).await?;
        let orphan = async {
            if options.dry_run {
                return Ok::<_, Error>(!lock.is_referenced().await?);
            }
            if !lock.forget_if_unreferenced().await? {
                return Ok(false);
            }
            store.delete(digest).await?;
            Ok(true)
        }
        .await;
        lock.release().await;
        if orphan? {
            report.orphan_blobs.push((digest, size));
        }
    }
    Ok(report)
}
