//! The audit log: one row per change, written in the change's own transaction, and rows the
//! database itself refuses to change or remove.

use depot_catalog::{AuditEntry, Canary, CatalogError, Change, ModelPatch, NewModel, VersionPatch};
use depot_domain::{AliasName, Tags};

use crate::support::{TestDb, change, digest, model_name, new_version, page, v};

/// The newest audit entry, which must be the only one written since `before` rows.
async fn only_new_entry(db: &TestDb, before: i64) -> AuditEntry {
    assert_eq!(db.audit_rows().await, before + 1, "exactly one audit row per change");
    db.catalog.audit_log(None, &page(1, None)).await.expect("audit").items.remove(0)
}

#[tokio::test]
async fn every_change_writes_one_audit_row_saying_who_did_what() {
    let db = TestDb::new().await;
    let catalog = &db.catalog;
    let name = model_name("audited");
    let stable = AliasName::parse("stable").expect("alias");
    let who = Change { reason: Some("ticket 42".to_owned()), ..Change::by("alice") };
    let (d1, d2) = (digest("audited 1"), digest("audited 2"));

    // (action, version) each step is expected to record.
    let mut steps: Vec<(&str, Option<i32>)> = Vec::new();
    let mut rows = db.audit_rows().await;
    macro_rules! step {
        ($action:expr, $version:expr, $change:expr) => {{
            let result = $change;
            let entry = only_new_entry(&db, rows).await;
            rows += 1;
            assert_eq!((entry.action.as_str(), entry.version), ($action, $version));
            assert_eq!((entry.actor.as_str(), entry.model.as_deref()), ("alice", Some("audited")));
            assert_eq!(entry.reason.as_deref(), Some("ticket 42"));
            steps.push(($action, $version));
            (result, entry)
        }};
    }

    let new = NewModel { name: name.clone(), description: "d".into(), tags: Tags::default() };
    step!("model.create", None, catalog.create_model(&new, &who).await.expect("create"));
    let patch = ModelPatch { description: Some("changed".into()), tags: None };
    step!("model.update", None, catalog.update_model(&name, &patch, &who).await.expect("update"));
    let mut lock = catalog.lock_digest(d1).await.expect("lock");
    let (_, created) =
        step!("version.create", Some(1), lock.insert_version(&name, &new_version(), &who).await.expect("v1"));
    lock.release().await;
    assert_eq!(created.details["digest"], d1.to_string());
    let mut lock = catalog.lock_digest(d2).await.expect("lock");
    step!("version.create", Some(2), lock.insert_version(&name, &new_version(), &who).await.expect("v2"));
    lock.release().await;
    let vpatch = VersionPatch { description: Some("better".into()), ..Default::default() };
    step!("version.update", Some(1), catalog.update_version(&name, v(1), &vpatch, &who).await.expect("update v1"));
    step!("alias.set", Some(1), catalog.set_alias(&name, &stable, v(1), &who).await.expect("alias"));
    let (_, deployed) = step!("deployment.deploy", Some(1), catalog.deploy(&name, v(1), &who).await.expect("deploy"));
    assert_eq!((deployed.details["from"].is_null(), deployed.details["to"].as_i64()), (true, Some(1)));
    let canary = Canary { version: v(2), percent: 25 };
    step!("deployment.canary", Some(2), catalog.set_canary(&name, canary, &who).await.expect("canary"));
    step!("deployment.abort_canary", None, catalog.abort_canary(&name, &who).await.expect("abort"));
    step!("deployment.canary", Some(2), catalog.set_canary(&name, canary, &who).await.expect("canary again"));
    step!("deployment.promote", Some(2), catalog.promote_canary(&name, &who).await.expect("promote"));
    let (_, rolled) =
        step!("deployment.rollback", Some(1), catalog.rollback(&name, v(1), &who).await.expect("rollback"));
    assert_eq!((rolled.details["from"].as_i64(), rolled.details["to"].as_i64()), (Some(2), Some(1)));
    step!("alias.delete", None, catalog.delete_alias(&name, &stable, &who).await.expect("delete alias"));
    step!("deployment.undeploy", None, catalog.undeploy(&name, &who).await.expect("undeploy"));
    for (number, d) in [(1, d1), (2, d2)] {
        let mut lock = catalog.lock_digest(d).await.expect("lock");
        step!("version.delete", Some(number), lock.delete_version(&name, v(number as u32), &who).await.expect("del"));
        lock.release().await;
    }
    step!("model.delete", None, catalog.delete_model(&name, &who).await.expect("delete model"));
    assert_eq!(db.audit_rows().await, rows);

    // The model's log (kept after the model is gone) holds every step, in order.
    let log = catalog.audit_log(Some("audited"), &page(100, None)).await.expect("audit");
    let mut recorded: Vec<_> = log.items.iter().map(|e| (e.action.as_str(), e.version)).collect();
    recorded.reverse();
    assert_eq!(recorded, steps);
}

#[tokio::test]
async fn a_refused_change_writes_no_audit_row() {
    let db = TestDb::new().await;
    let catalog = &db.catalog;
    let model = db.model_with_versions("refusals", 2).await;
    let missing = model_name("no-such-model");
    let stable = AliasName::parse("stable").expect("alias");
    let who = change("mallory");
    catalog.set_alias(&model, &stable, v(1), &who).await.expect("alias");
    let before = db.audit_rows().await;

    let new = NewModel { name: model.clone(), description: String::new(), tags: Tags::default() };
    assert!(matches!(catalog.create_model(&new, &who).await, Err(CatalogError::ModelExists { .. })));
    let patch = ModelPatch::default();
    assert!(matches!(catalog.update_model(&missing, &patch, &who).await, Err(CatalogError::ModelNotFound { .. })));
    let vpatch = VersionPatch::default();
    let updated = catalog.update_version(&model, v(9), &vpatch, &who).await;
    assert!(matches!(updated, Err(CatalogError::VersionNotFound { .. })), "{updated:?}");
    assert!(matches!(catalog.deploy(&model, v(9), &who).await, Err(CatalogError::VersionNotFound { .. })));
    let canary = Canary { version: v(2), percent: 10 };
    assert!(matches!(catalog.set_canary(&model, canary, &who).await, Err(CatalogError::NotDeployed { .. })));
    assert!(matches!(catalog.undeploy(&model, &who).await, Err(CatalogError::NotDeployed { .. })));
    assert!(matches!(catalog.delete_model(&model, &who).await, Err(CatalogError::ModelNotEmpty { versions: 2, .. })));
    let beta = AliasName::parse("beta").expect("alias");
    assert!(matches!(catalog.delete_alias(&model, &beta, &who).await, Err(CatalogError::AliasNotFound { .. })));
    let mut lock = catalog.lock_digest(digest("refused")).await.expect("lock");
    let inserted = lock.insert_version(&missing, &new_version(), &who).await;
    assert!(matches!(inserted, Err(CatalogError::ModelNotFound { .. })), "{inserted:?}");
    lock.release().await;
    // Version 1 is the alias's: the foreign key refuses, after the delete statement ran.
    let d1 = catalog.get_version(&model, v(1)).await.expect("v1").digest;
    let mut lock = catalog.lock_digest(d1).await.expect("lock");
    let deleted = lock.delete_version(&model, v(1), &who).await;
    assert!(matches!(deleted, Err(CatalogError::VersionInUse { .. })), "{deleted:?}");
    lock.release().await;
    catalog.deploy(&model, v(1), &who).await.expect("deploy");
    assert!(matches!(catalog.abort_canary(&model, &who).await, Err(CatalogError::NoCanary { .. })));
    assert!(matches!(catalog.promote_canary(&model, &who).await, Err(CatalogError::NoCanary { .. })));
    assert!(matches!(catalog.rollback_target(&model).await, Err(CatalogError::NothingToRollBack { .. })));

    assert_eq!(db.audit_rows().await, before + 1, "only the deploy was recorded");
}

/// A CHECK constraint makes every audit insert by `saboteur` fail, after the change's own
/// statements ran: if a change and its audit row were not one transaction, the change would stay.
#[tokio::test]
async fn a_change_whose_audit_row_fails_is_rolled_back() {
    let db = TestDb::new().await;
    let catalog = &db.catalog;
    let model = db.model_with_versions("atomic", 2).await;
    let stable = AliasName::parse("stable").expect("alias");
    catalog.set_alias(&model, &stable, v(1), &change("tester")).await.expect("alias");
    catalog.deploy(&model, v(1), &change("tester")).await.expect("deploy");
    sqlx::query("ALTER TABLE audit_log ADD CONSTRAINT refuse_saboteur CHECK (actor <> 'saboteur')")
        .execute(&mut db.raw().await)
        .await
        .expect("add the constraint");
    let rows = db.audit_rows().await;
    let bad = change("saboteur");
    let refused = |result: Result<(), CatalogError>| {
        assert!(matches!(result, Err(CatalogError::Database(_))), "{result:?}");
    };

    let new = NewModel { name: model_name("never"), description: String::new(), tags: Tags::default() };
    refused(catalog.create_model(&new, &bad).await.map(drop));
    let result = catalog.get_model(&new.name).await;
    assert!(matches!(result, Err(CatalogError::ModelNotFound { .. })), "{result:?}");

    let patch = ModelPatch { description: Some("sabotaged".into()), tags: None };
    refused(catalog.update_model(&model, &patch, &bad).await.map(drop));
    assert_eq!(catalog.get_model(&model).await.expect("model").description, "");

    let vpatch = VersionPatch { description: Some("sabotaged".into()), ..Default::default() };
    refused(catalog.update_version(&model, v(1), &vpatch, &bad).await.map(drop));
    assert_eq!(catalog.get_version(&model, v(1)).await.expect("v1").description, "");

    let sabotaged = digest("sabotaged upload");
    let mut lock = catalog.lock_digest(sabotaged).await.expect("lock");
    refused(lock.insert_version(&model, &new_version(), &bad).await.map(drop));
    lock.release().await;
    assert!(!db.artifact_row(sabotaged).await, "the artifact row went with the version");

    refused(catalog.deploy(&model, v(2), &bad).await.map(drop));
    refused(catalog.set_canary(&model, Canary { version: v(2), percent: 10 }, &bad).await.map(drop));
    let deployment = catalog.get_deployment(&model).await.expect("get").expect("deployed");
    assert_eq!((deployment.version, deployment.canary), (v(1), None));
    refused(catalog.undeploy(&model, &bad).await);
    assert!(catalog.get_deployment(&model).await.expect("get").is_some());

    refused(catalog.set_alias(&model, &stable, v(2), &bad).await.map(drop));
    refused(catalog.delete_alias(&model, &stable, &bad).await);
    assert_eq!(catalog.get_alias(&model, &stable).await.expect("alias").version, v(1));

    let d2 = catalog.get_version(&model, v(2)).await.expect("v2").digest;
    let mut lock = catalog.lock_digest(d2).await.expect("lock");
    refused(lock.delete_version(&model, v(2), &bad).await.map(drop));
    lock.release().await;
    catalog.get_version(&model, v(2)).await.expect("v2 is still there");
    assert!(db.artifact_row(d2).await);

    assert_eq!(db.audit_rows().await, rows);
    // The failed insert's number was not spent either.
    assert_eq!(db.version(&model, digest("honest upload")).await, v(3));
}

#[tokio::test]
async fn the_database_refuses_to_change_or_remove_audit_rows() {
    let db = TestDb::new().await;
    db.model_with_versions("immutable", 2).await;
    let before = db.catalog.audit_log(None, &page(100, None)).await.expect("audit").items;
    assert_eq!(before.len(), 3);
    let mut raw = db.raw().await;

    for statement in [
        "UPDATE audit_log SET actor = 'someone else'",
        "UPDATE audit_log SET details = '{}' WHERE id = (SELECT min(id) FROM audit_log)",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
        "TRUNCATE audit_log",
    ] {
        let result = sqlx::query(statement).execute(&mut raw).await;
        let message = match &result {
            Err(sqlx::Error::Database(e)) => e.message().to_owned(),
            other => panic!("{statement}: {other:?}"),
        };
        assert!(message.contains("append-only"), "{statement}: {message}");
    }

    let after = db.catalog.audit_log(None, &page(100, None)).await.expect("audit").items;
    let summary = |items: &[AuditEntry]| -> Vec<_> {
        items.iter().map(|e| (e.id, e.actor.clone(), e.action.clone(), e.details.clone())).collect()
    };
    assert_eq!(summary(&after), summary(&before));
}
