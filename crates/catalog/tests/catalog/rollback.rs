//! The rollback target: found by walking the deployment history in the audit log.

use depot_catalog::{Canary, CatalogError, Deployment};
use depot_domain::{ModelName, VersionNumber};

use crate::support::{TestDb, change, model_name, v};

async fn target(db: &TestDb, model: &ModelName) -> Result<VersionNumber, CatalogError> {
    db.catalog.rollback_target(model).await
}

/// Rolls back to the target the catalog proposes, as `POST .../rollback` with no version does.
async fn roll_back(db: &TestDb, model: &ModelName) -> Deployment {
    let to = target(db, model).await.expect("a rollback target");
    db.catalog.rollback(model, to, &change("operator")).await.expect("rollback")
}

fn assert_nothing_to_roll_back(result: Result<VersionNumber, CatalogError>, current: VersionNumber) {
    assert!(
        matches!(result, Err(CatalogError::NothingToRollBack { version, .. }) if version == current),
        "expected nothing to roll back to from {current}, got {result:?}"
    );
}

#[tokio::test]
async fn repeated_rollbacks_walk_back_through_the_deploys() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("walk", 3).await;
    for n in 1..=3 {
        db.catalog.deploy(&model, v(n), &change("deployer")).await.expect("deploy");
    }
    assert_eq!(target(&db, &model).await.expect("target"), v(2));

    assert_eq!(roll_back(&db, &model).await.version, v(2));
    assert_eq!(target(&db, &model).await.expect("target"), v(1));

    assert_eq!(roll_back(&db, &model).await.version, v(1));
    assert_nothing_to_roll_back(target(&db, &model).await, v(1));
    let deployed = db.catalog.get_deployment(&model).await.expect("get").expect("deployed");
    assert_eq!(deployed.version, v(1));

    // Both rollbacks are in the history, with where they came from.
    let history = db.catalog.serving_history(&model, &crate::support::page(10, None)).await.expect("history");
    let rollbacks: Vec<_> = history
        .items
        .iter()
        .filter(|e| e.action == "deployment.rollback")
        .map(|e| (e.details["from"].as_i64(), e.details["to"].as_i64()))
        .collect();
    assert_eq!(rollbacks, [(Some(2), Some(1)), (Some(3), Some(2))]);
}

#[tokio::test]
async fn a_promoted_canary_counts_as_a_deploy() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("promoted", 3).await;
    db.catalog.deploy(&model, v(1), &change("deployer")).await.expect("deploy 1");
    db.catalog.deploy(&model, v(2), &change("deployer")).await.expect("deploy 2");
    let canary = Canary { version: v(3), percent: 10 };
    db.catalog.set_canary(&model, canary, &change("deployer")).await.expect("canary 3");
    // While only a canary, version 3 changes nothing about the target.
    assert_eq!(target(&db, &model).await.expect("target"), v(1));

    let promoted = db.catalog.promote_canary(&model, &change("deployer")).await.expect("promote");
    assert_eq!((promoted.version, promoted.canary), (v(3), None));
    assert_eq!(target(&db, &model).await.expect("target"), v(2));
    assert_eq!(roll_back(&db, &model).await.version, v(2));
    assert_eq!(target(&db, &model).await.expect("target"), v(1));
}

#[tokio::test]
async fn a_canary_promoted_over_the_first_deploy_rolls_back_once() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("first-canary", 2).await;
    db.catalog.deploy(&model, v(1), &change("deployer")).await.expect("deploy 1");
    db.catalog.set_canary(&model, Canary { version: v(2), percent: 50 }, &change("deployer")).await.expect("canary");
    db.catalog.promote_canary(&model, &change("deployer")).await.expect("promote");
    assert_eq!(target(&db, &model).await.expect("target"), v(1));
    assert_eq!(roll_back(&db, &model).await.version, v(1));
    assert_nothing_to_roll_back(target(&db, &model).await, v(1));
}

#[tokio::test]
async fn an_aborted_canary_leaves_the_target_alone() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("aborted", 3).await;
    db.catalog.deploy(&model, v(1), &change("deployer")).await.expect("deploy 1");
    db.catalog.deploy(&model, v(2), &change("deployer")).await.expect("deploy 2");
    db.catalog.set_canary(&model, Canary { version: v(3), percent: 5 }, &change("deployer")).await.expect("canary");
    let aborted = db.catalog.abort_canary(&model, &change("deployer")).await.expect("abort");
    assert_eq!((aborted.version, aborted.canary), (v(2), None));
    assert_eq!(target(&db, &model).await.expect("target"), v(1));
}

#[tokio::test]
async fn the_first_deploy_has_nothing_to_roll_back_to() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("first", 1).await;
    db.catalog.deploy(&model, v(1), &change("deployer")).await.expect("deploy");
    assert_nothing_to_roll_back(target(&db, &model).await, v(1));
}

#[tokio::test]
async fn a_model_that_is_not_deployed_has_no_target() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("idle", 2).await;
    let result = target(&db, &model).await;
    assert!(matches!(result, Err(CatalogError::NotDeployed { ref name }) if *name == model), "{result:?}");

    let missing = model_name("no-such-model");
    let result = target(&db, &missing).await;
    assert!(matches!(result, Err(CatalogError::ModelNotFound { ref name }) if *name == missing), "{result:?}");
}

#[tokio::test]
async fn undeploying_ends_the_history_a_rollback_can_walk() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("undeployed", 3).await;
    db.catalog.deploy(&model, v(1), &change("deployer")).await.expect("deploy 1");
    db.catalog.deploy(&model, v(2), &change("deployer")).await.expect("deploy 2");
    db.catalog.undeploy(&model, &change("deployer")).await.expect("undeploy");
    let result = target(&db, &model).await;
    assert!(matches!(result, Err(CatalogError::NotDeployed { .. })), "{result:?}");

    // Deployed afresh, it has nothing before it.
    db.catalog.deploy(&model, v(3), &change("deployer")).await.expect("deploy 3");
    assert_nothing_to_roll_back(target(&db, &model).await, v(3));
}

#[tokio::test]
async fn redeploying_the_deployed_version_does_not_make_it_its_own_target() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("redeployed", 3).await;
    db.catalog.deploy(&model, v(1), &change("deployer")).await.expect("deploy 1");
    db.catalog.deploy(&model, v(2), &change("deployer")).await.expect("deploy 2");
    // A pipeline re-running its deploy step, and a canary ended by deploying the stable version.
    db.catalog.deploy(&model, v(2), &change("pipeline")).await.expect("deploy 2 again");
    db.catalog.set_canary(&model, Canary { version: v(3), percent: 20 }, &change("deployer")).await.expect("canary");
    db.catalog.deploy(&model, v(2), &change("deployer")).await.expect("deploy 2 to end the canary");

    assert_eq!(target(&db, &model).await.expect("target"), v(1));
    assert_eq!(roll_back(&db, &model).await.version, v(1));
    assert_nothing_to_roll_back(target(&db, &model).await, v(1));
}

/// The target is what was deployed before the *latest deploy* of the current version, not a
/// stack of deploys: a version deployed twice makes repeated rollbacks go back and forth.
#[tokio::test]
async fn a_version_deployed_twice_makes_rollbacks_alternate() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("alternating", 2).await;
    for n in [1, 2, 1] {
        db.catalog.deploy(&model, v(n), &change("deployer")).await.expect("deploy");
    }
    assert_eq!(target(&db, &model).await.expect("target"), v(2));
    assert_eq!(roll_back(&db, &model).await.version, v(2));
    assert_eq!(target(&db, &model).await.expect("target"), v(1));
    assert_eq!(roll_back(&db, &model).await.version, v(1));
    // A stack would be empty here; the walk finds `deploy 1 (from 2)` again.
    assert_eq!(target(&db, &model).await.expect("target"), v(2));
}

/// A rollback to a named version is not a deploy: the walk then starts from that version's
/// latest deploy.
#[tokio::test]
async fn after_a_rollback_to_a_named_version_the_walk_starts_from_its_deploy() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("named", 3).await;
    for n in 1..=3 {
        db.catalog.deploy(&model, v(n), &change("deployer")).await.expect("deploy");
    }
    db.catalog.rollback(&model, v(1), &change("operator")).await.expect("rollback to 1");
    assert_nothing_to_roll_back(target(&db, &model).await, v(1));
}
