//! The digest lock: mutual exclusion across sessions and replicas, gapless numbering under
//! concurrent uploads, and the blob-lifetime answers given under the lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use depot_catalog::CatalogError;
use sqlx::PgConnection;

use crate::support::{TestDb, change, digest, new_version, v};

/// Safety bound on waits that should end at once; never what a test's outcome depends on.
const BOUND: Duration = Duration::from_secs(10);

/// Advisory locks some session of this database is waiting for.
async fn waiting_advisory_locks(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(conn)
    .await
    .expect("pg_locks")
}

/// Polls until some session waits for an advisory lock; fails the test after [`BOUND`].
async fn until_a_session_waits(conn: &mut PgConnection) {
    let start = Instant::now();
    while waiting_advisory_locks(conn).await == 0 {
        assert!(start.elapsed() < BOUND, "no session ever waited for the digest lock");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_replica_waits_for_the_digest_lock_until_the_first_releases_it() {
    let db = TestDb::new().await;
    let replica = db.replica().await;
    let model = db.model("locked").await;
    let d = digest("shared bytes");

    let mut first = db.catalog.lock_digest(d).await.expect("first lock");
    let released = Arc::new(AtomicBool::new(false));
    let second = tokio::spawn({
        let released = released.clone();
        async move {
            let lock = replica.lock_digest(d).await.expect("second lock");
            let saw_release = released.load(Ordering::SeqCst);
            (lock, saw_release, Instant::now())
        }
    });

    // The second session is parked inside PostgreSQL on this very lock, not merely slow.
    until_a_session_waits(&mut db.raw().await).await;
    assert!(!second.is_finished(), "the second lock was granted while the first was held");

    first.insert_version(&model, &new_version(), &change("first")).await.expect("insert under the lock");
    released.store(true, Ordering::SeqCst);
    let released_at = Instant::now();
    first.release().await;

    let (mut lock, saw_release, acquired_at) =
        tokio::time::timeout(BOUND, second).await.expect("the second lock follows the release").expect("task");
    assert!(saw_release, "the second holder got the lock before the first released it");
    assert!(acquired_at >= released_at);
    // The second holder sees what the first committed.
    assert!(lock.is_referenced().await.expect("is_referenced"));
    lock.release().await;
    assert_eq!(waiting_advisory_locks(&mut db.raw().await).await, 0);
}

#[tokio::test]
async fn different_digests_do_not_wait_for_each_other() {
    let db = TestDb::new().await;
    let held = db.catalog.lock_digest(digest("one")).await.expect("lock one");
    let other = tokio::time::timeout(BOUND, db.catalog.lock_digest(digest("two")))
        .await
        .expect("a different digest is not blocked")
        .expect("lock two");
    assert_eq!(other.digest(), digest("two"));
    other.release().await;
    held.release().await;
}

#[tokio::test]
async fn dropping_a_lock_without_releasing_it_frees_the_digest() {
    let db = TestDb::new().await;
    let d = digest("abandoned");
    let abandoned = db.catalog.lock_digest(d).await.expect("lock");
    // A cancelled request: the lock goes away without `release`.
    drop(abandoned);
    let next = tokio::time::timeout(BOUND, db.catalog.lock_digest(d))
        .await
        .expect("the dropped lock's session ended, and its lock with it")
        .expect("lock again");
    next.release().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_of_the_same_bytes_get_gapless_numbers_one_at_a_time() {
    const TASKS: u32 = 12;
    let db = TestDb::new().await;
    let model = db.model("same-bytes").await;
    let d = digest("identical upload");
    let inside = Arc::new(AtomicUsize::new(0));
    let most_inside = Arc::new(AtomicUsize::new(0));

    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (catalog, model, inside, most_inside) =
                (db.catalog.clone(), model.clone(), inside.clone(), most_inside.clone());
            tokio::spawn(async move {
                let mut lock = catalog.lock_digest(d).await.expect("lock");
                let now_inside = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most_inside.fetch_max(now_inside, Ordering::SeqCst);
                // Both awaits give the other tasks every chance to barge in.
                let referenced_before = lock.is_referenced().await.expect("is_referenced");
                let version = lock
                    .insert_version(&model, &new_version(), &change(&format!("uploader-{i}")))
                    .await
                    .expect("insert");
                inside.fetch_sub(1, Ordering::SeqCst);
                lock.release().await;
                (version.version.get(), referenced_before)
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }

    assert_eq!(most_inside.load(Ordering::SeqCst), 1, "two holders of one digest lock at once");
    let mut numbers: Vec<u32> = results.iter().map(|(n, _)| *n).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=TASKS).collect::<Vec<_>>());
    // Exactly one task found the bytes unreferenced: the one that registered them first.
    assert_eq!(results.iter().filter(|(_, referenced)| !referenced).count(), 1);

    let stored = db.catalog.get_model(&model).await.expect("model");
    assert_eq!(stored.version_count, i64::from(TASKS));
    assert_eq!(stored.latest_version, Some(TASKS));
    let artifacts: i64 = sqlx::query_scalar("SELECT count(*) FROM artifacts")
        .fetch_one(&mut db.raw().await)
        .await
        .expect("count artifacts");
    assert_eq!(artifacts, 1, "equal bytes are stored once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_of_different_bytes_to_one_model_get_gapless_numbers() {
    const TASKS: u32 = 12;
    let db = TestDb::new().await;
    let model = db.model("many-bytes").await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (catalog, model) = (db.catalog.clone(), model.clone());
            tokio::spawn(async move {
                let mut lock = catalog.lock_digest(digest(&format!("upload {i}"))).await.expect("lock");
                let version = lock.insert_version(&model, &new_version(), &change("uploader")).await.expect("insert");
                lock.release().await;
                version.version.get()
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.expect("task"));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=TASKS).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_deleted_version_number_is_never_handed_out_again() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("renumbered", 3).await;
    let d3 = db.catalog.get_version(&model, v(3)).await.expect("v3").digest;
    let mut lock = db.catalog.lock_digest(d3).await.expect("lock");
    lock.delete_version(&model, v(3), &change("tester")).await.expect("delete v3");
    lock.release().await;
    assert_eq!(db.version(&model, digest("after the delete")).await, v(4));
}

#[tokio::test]
async fn forget_if_unreferenced_is_true_only_when_no_version_references_the_digest() {
    let db = TestDb::new().await;
    let model = db.model("forgetful").await;

    // Bytes no version ever referenced (an upload whose registration failed) may go.
    let mut lock = db.catalog.lock_digest(digest("never registered")).await.expect("lock");
    assert!(!lock.is_referenced().await.expect("is_referenced"));
    assert!(lock.forget_if_unreferenced().await.expect("forget"));
    lock.release().await;

    // Registered bytes stay, row and all.
    let kept = digest("registered");
    db.version(&model, kept).await;
    let mut lock = db.catalog.lock_digest(kept).await.expect("lock");
    assert!(!lock.forget_if_unreferenced().await.expect("forget"));
    assert!(lock.is_referenced().await.expect("is_referenced"));
    lock.release().await;
    assert!(db.artifact_row(kept).await);
    db.catalog.get_version(&model, v(1)).await.expect("the version is untouched");
}

#[tokio::test]
async fn a_failed_registration_leaves_its_bytes_free_to_delete() {
    let db = TestDb::new().await;
    let d = digest("orphan upload");
    let mut lock = db.catalog.lock_digest(d).await.expect("lock");
    let missing = crate::support::model_name("no-such-model");
    let inserted = lock.insert_version(&missing, &new_version(), &change("tester")).await;
    assert!(matches!(inserted, Err(CatalogError::ModelNotFound { ref name }) if *name == missing), "{inserted:?}");
    // The upload path's clean-up: the same lock's connection, after the rolled-back transaction.
    assert!(lock.forget_if_unreferenced().await.expect("forget"));
    lock.release().await;
    assert!(!db.artifact_row(d).await);
}

#[tokio::test]
async fn deleting_versions_that_share_bytes_reports_the_blob_referenced_until_the_last_goes() {
    let db = TestDb::new().await;
    let first = db.model("first").await;
    let second = db.model("second").await;
    let d = digest("shared weights");
    db.version(&first, d).await;
    db.version(&second, d).await;

    let mut lock = db.catalog.lock_digest(d).await.expect("lock");
    let deleted = lock.delete_version(&first, v(1), &change("tester")).await.expect("delete one");
    assert_eq!(deleted.digest, d);
    assert!(deleted.blob_still_referenced);
    assert!(!lock.forget_if_unreferenced().await.expect("forget"), "the second version still needs the bytes");
    assert!(db.artifact_row(d).await);

    let deleted = lock.delete_version(&second, v(1), &change("tester")).await.expect("delete the last");
    assert!(!deleted.blob_still_referenced);
    assert!(!db.artifact_row(d).await, "the artifact row goes with the last version");
    assert!(!lock.is_referenced().await.expect("is_referenced"));
    assert!(lock.forget_if_unreferenced().await.expect("forget"));
    lock.release().await;
}

#[tokio::test]
async fn a_version_is_deleted_only_under_the_lock_of_its_own_bytes() {
    let db = TestDb::new().await;
    let model = db.model("guarded").await;
    let d = digest("real bytes");
    db.version(&model, d).await;
    let mut wrong = db.catalog.lock_digest(digest("other bytes")).await.expect("lock");
    let deleted = wrong.delete_version(&model, v(1), &change("tester")).await;
    wrong.release().await;
    assert!(matches!(deleted, Err(CatalogError::VersionNotFound { version, .. }) if version == v(1)), "{deleted:?}");
    db.catalog.get_version(&model, v(1)).await.expect("still there");
    assert!(db.artifact_row(d).await);
}

#[tokio::test]
async fn a_version_in_use_is_not_deleted() {
    let db = TestDb::new().await;
    let model = db.model("in-use").await;
    let d = digest("deployed bytes");
    db.version(&model, d).await;
    db.catalog.deploy(&model, v(1), &change("tester")).await.expect("deploy");
    let audit_before = db.audit_rows().await;

    let mut lock = db.catalog.lock_digest(d).await.expect("lock");
    let deleted = lock.delete_version(&model, v(1), &change("tester")).await;
    assert!(matches!(deleted, Err(CatalogError::VersionInUse { version, .. }) if version == v(1)), "{deleted:?}");
    assert!(!lock.forget_if_unreferenced().await.expect("forget"));
    lock.release().await;

    db.catalog.get_version(&model, v(1)).await.expect("still there");
    assert!(db.artifact_row(d).await);
    assert_eq!(db.audit_rows().await, audit_before);
}
