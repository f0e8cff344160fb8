//! Keyset paging of the listings: models (by name), versions (both orders), the audit log and
//! the serving history (newest first). `next_cursor` is `None` exactly on the last page.

use std::collections::BTreeSet;

use depot_catalog::{CatalogError, ModelFilter, Page, SortOrder};
use depot_domain::ModelName;

use crate::support::{TestDb, change, digest, model_name, page, v, walk};

const NAMES: [&str; 5] = ["alpha", "bravo", "charlie", "delta", "echo"];

async fn models(db: &TestDb) {
    for name in NAMES {
        db.model(name).await;
    }
}

fn names(items: &[depot_catalog::Model]) -> Vec<String> {
    items.iter().map(|m| m.name.to_string()).collect()
}

fn numbers(items: &[depot_catalog::Version]) -> Vec<u32> {
    items.iter().map(|v| v.version.get()).collect()
}

fn assert_invalid_cursor<T: std::fmt::Debug>(result: Result<Page<T>, CatalogError>, sent: &str) {
    assert!(
        matches!(result, Err(CatalogError::InvalidCursor { ref cursor }) if cursor == sent),
        "cursor {sent:?}: {result:?}"
    );
}

#[tokio::test]
async fn models_page_boundaries() {
    let db = TestDb::new().await;
    models(&db).await;
    let all = ModelFilter::default();

    let exact = db.catalog.list_models(&all, &page(5, None)).await.expect("list");
    assert_eq!(names(&exact.items), NAMES);
    assert_eq!(exact.next_cursor, None, "a page holding the last item is the last page");

    let roomy = db.catalog.list_models(&all, &page(6, None)).await.expect("list");
    assert_eq!((roomy.items.len(), roomy.next_cursor), (5, None));

    let short = db.catalog.list_models(&all, &page(4, None)).await.expect("list");
    assert_eq!(names(&short.items), NAMES[..4]);
    let rest = db.catalog.list_models(&all, &page(4, short.next_cursor)).await.expect("next");
    assert_eq!((names(&rest.items), rest.next_cursor), (vec!["echo".to_owned()], None));

    let pages = walk(1, async |p| db.catalog.list_models(&all, &p).await).await;
    assert_eq!(pages.len(), NAMES.len());
    assert_eq!(pages.iter().flat_map(|p| names(p)).collect::<Vec<_>>(), NAMES);
}

#[tokio::test]
async fn models_paging_respects_the_filter() {
    let db = TestDb::new().await;
    models(&db).await;
    for name in ["delta-one", "delta-two", "delta-zz"] {
        db.model(name).await;
    }
    let deltas = ModelFilter { name_prefix: Some("delta".to_owned()), tag: None, visible: None };
    let pages = walk(2, async |p| db.catalog.list_models(&deltas, &p).await).await;
    let seen: Vec<_> = pages.iter().flat_map(|p| names(p)).collect();
    assert_eq!(seen, ["delta", "delta-one", "delta-two", "delta-zz"]);
    assert_eq!(pages.len(), 2);
}

#[tokio::test]
async fn a_model_cursor_that_is_no_model_name_is_refused() {
    let db = TestDb::new().await;
    models(&db).await;
    for garbage in ["not a cursor!", "", "Alpha", "../bravo"] {
        let result = db.catalog.list_models(&ModelFilter::default(), &page(2, Some(garbage.to_owned()))).await;
        assert_invalid_cursor(result, garbage);
    }
}

#[tokio::test]
async fn models_created_after_a_cursor_was_taken_appear_at_most_once() {
    let db = TestDb::new().await;
    models(&db).await;
    let all = ModelFilter::default();
    let first = db.catalog.list_models(&all, &page(2, None)).await.expect("first page");
    assert_eq!(names(&first.items), ["alpha", "bravo"]);
    // One new model sorts before the cursor (already passed), one after it.
    db.model("aardvark").await;
    db.model("bravo-two").await;

    let mut seen = names(&first.items);
    let mut cursor = first.next_cursor;
    while let Some(c) = cursor.take() {
        let next = db.catalog.list_models(&all, &page(2, Some(c))).await.expect("page");
        seen.extend(names(&next.items));
        cursor = next.next_cursor;
    }
    assert_eq!(seen, ["alpha", "bravo", "bravo-two", "charlie", "delta", "echo"]);
}

#[tokio::test]
async fn a_zero_limit_means_the_default_and_a_large_one_is_capped() {
    let db = TestDb::new().await;
    let model = db.model("noisy").await;
    // 600 audit rows, written straight into the table (appending is allowed).
    sqlx::query(
        "INSERT INTO audit_log (actor, action, model, details)
         SELECT 'tester', 'model.update', 'noisy', '{}' FROM generate_series(1, 600)",
    )
    .execute(&mut db.raw().await)
    .await
    .expect("append audit rows");

    let default = db.catalog.audit_log(Some(model.as_str()), &page(0, None)).await.expect("audit");
    assert_eq!(default.items.len(), depot_catalog::PageRequest::DEFAULT_LIMIT as usize);
    assert!(default.next_cursor.is_some());

    let capped = db.catalog.audit_log(Some(model.as_str()), &page(10_000, None)).await.expect("audit");
    assert_eq!(capped.items.len(), depot_catalog::PageRequest::MAX_LIMIT as usize);
    assert!(capped.next_cursor.is_some());
}

async fn five_versions(db: &TestDb) -> ModelName {
    db.model_with_versions("versioned", 5).await
}

#[tokio::test]
async fn versions_page_boundaries_in_both_orders() {
    let db = TestDb::new().await;
    let model = five_versions(&db).await;
    for (order, expected) in [(SortOrder::Desc, [5, 4, 3, 2, 1]), (SortOrder::Asc, [1, 2, 3, 4, 5])] {
        let exact = db.catalog.list_versions(&model, order, &page(5, None)).await.expect("list");
        assert_eq!((numbers(&exact.items), exact.next_cursor), (expected.to_vec(), None), "{order:?}");

        let roomy = db.catalog.list_versions(&model, order, &page(6, None)).await.expect("list");
        assert_eq!((numbers(&roomy.items), roomy.next_cursor), (expected.to_vec(), None), "{order:?}");

        let short = db.catalog.list_versions(&model, order, &page(4, None)).await.expect("list");
        assert_eq!(numbers(&short.items), expected[..4], "{order:?}");
        let rest = db.catalog.list_versions(&model, order, &page(4, short.next_cursor)).await.expect("next");
        assert_eq!((numbers(&rest.items), rest.next_cursor), (expected[4..].to_vec(), None), "{order:?}");

        let pages = walk(1, async |p| db.catalog.list_versions(&model, order, &p).await).await;
        assert_eq!(pages.len(), 5, "{order:?}");
        assert_eq!(pages.iter().flat_map(|p| numbers(p)).collect::<Vec<_>>(), expected, "{order:?}");
    }
}

#[tokio::test]
async fn versions_paging_steps_over_deleted_numbers() {
    let db = TestDb::new().await;
    let model = five_versions(&db).await;
    let d3 = db.catalog.get_version(&model, v(3)).await.expect("v3").digest;
    let mut lock = db.catalog.lock_digest(d3).await.expect("lock");
    lock.delete_version(&model, v(3), &change("tester")).await.expect("delete v3");
    lock.release().await;

    let asc = walk(2, async |p| db.catalog.list_versions(&model, SortOrder::Asc, &p).await).await;
    assert_eq!(asc.iter().map(|p| numbers(p)).collect::<Vec<_>>(), [vec![1, 2], vec![4, 5]]);
    let desc = walk(2, async |p| db.catalog.list_versions(&model, SortOrder::Desc, &p).await).await;
    assert_eq!(desc.iter().map(|p| numbers(p)).collect::<Vec<_>>(), [vec![5, 4], vec![2, 1]]);
}

#[tokio::test]
async fn a_version_cursor_that_is_no_number_is_refused() {
    let db = TestDb::new().await;
    let model = five_versions(&db).await;
    for order in [SortOrder::Asc, SortOrder::Desc] {
        for garbage in ["abc", "", "3.5", "99999999999"] {
            let result = db.catalog.list_versions(&model, order, &page(2, Some(garbage.to_owned()))).await;
            assert_invalid_cursor(result, garbage);
        }
    }
    let missing = model_name("no-such-model");
    let result = db.catalog.list_versions(&missing, SortOrder::Desc, &page(2, None)).await;
    assert!(matches!(result, Err(CatalogError::ModelNotFound { .. })), "{result:?}");
}

#[tokio::test]
async fn versions_registered_after_a_cursor_was_taken_appear_at_most_once() {
    let db = TestDb::new().await;
    let model = five_versions(&db).await;

    let newest = db.catalog.list_versions(&model, SortOrder::Desc, &page(2, None)).await.expect("desc");
    let oldest = db.catalog.list_versions(&model, SortOrder::Asc, &page(2, None)).await.expect("asc");
    assert_eq!(db.version(&model, digest("late")).await, v(6));

    // Newest first, the new version sorts before the cursor: the walk does not go back for it.
    let mut seen = numbers(&newest.items);
    let mut cursor = newest.next_cursor;
    while let Some(c) = cursor.take() {
        let next = db.catalog.list_versions(&model, SortOrder::Desc, &page(2, Some(c))).await.expect("page");
        seen.extend(numbers(&next.items));
        cursor = next.next_cursor;
    }
    assert_eq!(seen, [5, 4, 3, 2, 1]);

    // Oldest first, it comes at the end, once.
    let mut seen = numbers(&oldest.items);
    let mut cursor = oldest.next_cursor;
    while let Some(c) = cursor.take() {
        let next = db.catalog.list_versions(&model, SortOrder::Asc, &page(2, Some(c))).await.expect("page");
        seen.extend(numbers(&next.items));
        cursor = next.next_cursor;
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
}

/// Two models with a few changes each: 2 creates, 3 + 2 version creates, 1 update = 8 rows.
async fn audited(db: &TestDb) -> (ModelName, ModelName) {
    let a = db.model_with_versions("audited-a", 3).await;
    let b = db.model_with_versions("audited-b", 2).await;
    db.catalog.update_model(&a, &Default::default(), &change("tester")).await.expect("update");
    (a, b)
}

#[tokio::test]
async fn audit_log_page_boundaries() {
    let db = TestDb::new().await;
    let (a, _) = audited(&db).await;

    let all = db.catalog.audit_log(None, &page(8, None)).await.expect("audit");
    assert_eq!((all.items.len(), &all.next_cursor), (8, &None));
    let ids: Vec<i64> = all.items.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let roomy = db.catalog.audit_log(None, &page(9, None)).await.expect("audit");
    assert_eq!((roomy.items.len(), roomy.next_cursor), (8, None));

    let short = db.catalog.audit_log(None, &page(7, None)).await.expect("audit");
    assert_eq!(short.items.len(), 7);
    let rest = db.catalog.audit_log(None, &page(7, short.next_cursor)).await.expect("next");
    assert_eq!((rest.items.iter().map(|e| e.id).collect::<Vec<_>>(), rest.next_cursor), (vec![ids[7]], None));

    let pages = walk(1, async |p| db.catalog.audit_log(None, &p).await).await;
    assert_eq!(pages.iter().flatten().map(|e| e.id).collect::<Vec<_>>(), ids);

    let only_a = walk(2, async |p| db.catalog.audit_log(Some(a.as_str()), &p).await).await;
    let only_a: Vec<_> = only_a.into_iter().flatten().collect();
    assert_eq!(only_a.len(), 5, "create, three versions, update");
    assert!(only_a.iter().all(|e| e.model.as_deref() == Some(a.as_str())));
}

#[tokio::test]
async fn an_audit_cursor_that_is_no_id_is_refused() {
    let db = TestDb::new().await;
    let (a, _) = audited(&db).await;
    for garbage in ["abc", "", "1e3"] {
        assert_invalid_cursor(db.catalog.audit_log(None, &page(2, Some(garbage.to_owned()))).await, garbage);
        assert_invalid_cursor(db.catalog.serving_history(&a, &page(2, Some(garbage.to_owned()))).await, garbage);
    }
}

#[tokio::test]
async fn audit_rows_written_after_a_cursor_was_taken_do_not_repeat_entries() {
    let db = TestDb::new().await;
    let (a, b) = audited(&db).await;
    let first = db.catalog.audit_log(None, &page(3, None)).await.expect("first page");
    // Newer than everything listed so far: newest first, they belong before the first page.
    db.version(&a, digest("late a")).await;
    db.version(&b, digest("late b")).await;

    let mut seen: Vec<i64> = first.items.iter().map(|e| e.id).collect();
    let mut cursor = first.next_cursor;
    while let Some(c) = cursor.take() {
        let next = db.catalog.audit_log(None, &page(3, Some(c))).await.expect("page");
        seen.extend(next.items.iter().map(|e| e.id));
        cursor = next.next_cursor;
    }
    assert_eq!(seen.len(), 8, "the eight rows that were there when the walk began");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len(), "no entry twice: {seen:?}");
}

#[tokio::test]
async fn serving_history_pages_through_deployment_and_alias_changes_only() {
    let db = TestDb::new().await;
    let model = db.model_with_versions("served", 3).await;
    let stable = depot_domain::AliasName::parse("stable").expect("alias");
    db.catalog.deploy(&model, v(1), &change("deployer")).await.expect("deploy 1");
    db.catalog.set_alias(&model, &stable, v(1), &change("deployer")).await.expect("alias");
    db.catalog.deploy(&model, v(2), &change("deployer")).await.expect("deploy 2");
    db.catalog.update_model(&model, &Default::default(), &change("tester")).await.expect("update");
    db.catalog.set_alias(&model, &stable, v(2), &change("deployer")).await.expect("move alias");
    db.catalog.delete_alias(&model, &stable, &change("deployer")).await.expect("delete alias");

    let pages = walk(2, async |p| db.catalog.serving_history(&model, &p).await).await;
    assert_eq!(pages.len(), 3);
    let actions: Vec<_> = pages.iter().flatten().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["alias.delete", "alias.set", "deployment.deploy", "alias.set", "deployment.deploy"],
        "newest first, no model or version changes"
    );

    let missing = model_name("no-such-model");
    let result = db.catalog.serving_history(&missing, &page(2, None)).await;
    assert!(matches!(result, Err(CatalogError::ModelNotFound { .. })), "{result:?}");
}
