//! Access control against the real server: every route refuses a request without a token
//! (401), a token with a grant on another model or a lower role (403), and serves the right one;
//! revocation reaches a second replica within a second; four-eyes changes to protected
//! deployments and aliases; what a stored hash, an expired token and a burst of bad ones get.

use std::time::{Duration, Instant};

use depot_tests::{Backend, TestApp, assert_error, client_with, fixture_bytes};
use reqwest::{Client, Method, Response};
use serde_json::{Value, json};

const TINY_V1: &str = r#"{"inputs": {"x": [[1, 2, 3, 4]]}}"#;
const TINY_V2: &str = r#"{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}"#;

/// A model `m` with versions 1 and 2 (tiny.onnx), version 1 deployed and aliased `champion`,
/// and a model `other`.
async fn setup(app: &TestApp) {
    for name in ["m", "other"] {
        app.create_model(name).await;
    }
    for _ in 0..2 {
        assert_eq!(app.upload("m", fixture_bytes("tiny.onnx"), None).await.status(), 201);
    }
    assert_eq!(app.upload("other", fixture_bytes("tiny.onnx"), None).await.status(), 201);
    let deployed = send(&app.client, app, Method::PUT, "/v1/models/m/deployment", Some(json!({"version": 1}))).await;
    assert_eq!(deployed.status(), 200);
    let aliased =
        send(&app.client, app, Method::PUT, "/v1/models/m/aliases/champion", Some(json!({"version": 1}))).await;
    assert_eq!(aliased.status(), 200);
}

async fn send(client: &Client, app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut request = client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

/// The role a route needs, the request, and the status it answers when allowed.
struct Case {
    role: &'static str,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    ok: u16,
}

fn case(role: &'static str, method: Method, path: &'static str, body: Option<Value>, ok: u16) -> Case {
    Case { role, method, path, body, ok }
}

fn json_body(text: &str) -> Option<Value> {
    Some(serde_json::from_str(text).expect("json"))
}

/// A role on `m` that does not give what `role` gives (predicting comes with every role).
fn lower(role: &str) -> Option<&'static str> {
    match role {
        "reader" => Some("predictor"),
        "pusher" => Some("reader"),
        "deployer" => Some("pusher"),
        "admin" => Some("deployer"),
        _ => None,
    }
}

/// Checks a refusal: the status and, for /v1, the code; /v2 answers in the protocol's shape.
async fn refused(response: Response, status: u16, code: &str, path: &str) {
    let actual = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap_or("").to_owned());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "{path}: {body}");
    assert_eq!(challenge.is_some(), status == 401, "{path}: WWW-Authenticate only on 401");
    if path.starts_with("/v2") {
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}: {body}");
    } else {
        assert_eq!(body["code"], code, "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_a_token_with_the_right_role_on_the_model() {
    let app = TestApp::spawn(Backend::Local).await;
    setup(&app).await;
    let mut tokens = std::collections::HashMap::new();
    for role in ["reader", "predictor", "pusher", "deployer", "admin"] {
        tokens.insert(role, client_with(&app.token(&format!("{role}-user"), &[(role, "m")]).await));
    }
    let elsewhere = client_with(&app.token("elsewhere", &[("admin", "other")]).await);
    let anonymous = Client::new();

    use Method as M;
    let cases = [
        case("reader", M::GET, "/v1/models/m", None, 200),
        case("reader", M::GET, "/v1/models/m/versions", None, 200),
        case("reader", M::GET, "/v1/models/m/versions/1", None, 200),
        case("reader", M::GET, "/v1/models/m/versions/1/artifact", None, 200),
        case("reader", M::GET, "/v1/models/m/deployment", None, 200),
        case("reader", M::GET, "/v1/models/m/deployment/history", None, 200),
        case("reader", M::GET, "/v1/models/m/aliases", None, 200),
        case("reader", M::GET, "/v1/models/m/aliases/champion", None, 200),
        case("reader", M::GET, "/v1/models/m/protection", None, 200),
        case("reader", M::GET, "/v1/audit?model=m", None, 200),
        case("reader", M::GET, "/v1/approvals?model=m", None, 200),
        case("predictor", M::POST, "/v1/models/m/versions/1/predict", json_body(TINY_V1), 200),
        case("predictor", M::POST, "/v1/models/m/versions/champion/predict", json_body(TINY_V1), 200),
        case("predictor", M::POST, "/v1/models/m/predict", json_body(TINY_V1), 200),
        case("predictor", M::POST, "/v2/models/m/versions/1/infer", json_body(TINY_V2), 200),
        case("predictor", M::POST, "/v2/models/m/infer", json_body(TINY_V2), 200),
        case("predictor", M::GET, "/v2/models/m", None, 200),
        case("predictor", M::GET, "/v2/models/m/versions/1", None, 200),
        case("predictor", M::GET, "/v2/models/m/ready", None, 200),
        case("predictor", M::GET, "/v2/models/m/versions/1/ready", None, 200),
        case("pusher", M::PATCH, "/v1/models/m", Some(json!({"description": "d"})), 200),
        case("pusher", M::PATCH, "/v1/models/m/versions/1", Some(json!({"description": "d"})), 200),
        case("pusher", M::PUT, "/v1/models/m/aliases/candidate", Some(json!({"version": 2})), 200),
        case("pusher", M::DELETE, "/v1/models/m/aliases/candidate", None, 204),
        case("deployer", M::PUT, "/v1/models/m/deployment", Some(json!({"version": 2})), 200),
        case("deployer", M::POST, "/v1/models/m/deployment/rollback", Some(json!({})), 200),
        case("deployer", M::PUT, "/v1/models/m/deployment/canary", Some(json!({"version": 2, "percent": 10})), 200),
        case("deployer", M::POST, "/v1/models/m/deployment/canary/promote", None, 200),
        case("deployer", M::PUT, "/v1/models/m/deployment/canary", Some(json!({"version": 1, "percent": 10})), 200),
        case("deployer", M::DELETE, "/v1/models/m/deployment/canary", None, 200),
        case("pusher", M::DELETE, "/v1/models/m/aliases/champion", None, 204),
        case("deployer", M::DELETE, "/v1/models/m/deployment", None, 204),
        case("admin", M::PUT, "/v1/models/m/protection", Some(json!({"aliases": ["production"]})), 200),
        case("admin", M::DELETE, "/v1/models/m/versions/1", None, 204),
        case("admin", M::DELETE, "/v1/models/m?cascade=true", None, 204),
    ];
    for case in &cases {
        let path = case.path;
        let response = send(&anonymous, &app, case.method.clone(), path, case.body.clone()).await;
        refused(response, 401, "unauthenticated", path).await;
        let response = send(&elsewhere, &app, case.method.clone(), path, case.body.clone()).await;
        refused(response, 403, "forbidden", path).await;
        if let Some(lower) = lower(case.role) {
            let response = send(&tokens[lower], &app, case.method.clone(), path, case.body.clone()).await;
            refused(response, 403, "forbidden", path).await;
        }
        let response = send(&tokens[case.role], &app, case.method.clone(), path, case.body.clone()).await;
        let status = response.status().as_u16();
        assert_eq!(
            status,
            case.ok,
            "{} {path} as {}: {}",
            case.method,
            case.role,
            response.text().await.unwrap_or_default()
        );
    }

    // Creating a model and pushing a version need pusher on the name; the grant on `m` does not
    // cover `m2`, one on `m*` does.
    let models = app.url("/v1/models");
    let create = |client: Client| {
        let url = models.clone();
        async move { client.post(url).json(&json!({"name": "m2"})).send().await.expect("request") }
    };
    refused(create(anonymous.clone()).await, 401, "unauthenticated", "/v1/models").await;
    refused(create(tokens["pusher"].clone()).await, 403, "forbidden", "/v1/models").await;
    let prefix_pusher = client_with(&app.token("team", &[("pusher", "m*")]).await);
    assert_eq!(create(prefix_pusher.clone()).await.status(), 201);
    let versions = app.url("/v1/models/m2/versions");
    let upload = |client: Client| {
        let url = versions.clone();
        async move {
            let form = reqwest::multipart::Form::new()
                .part("artifact", reqwest::multipart::Part::bytes(fixture_bytes("tiny.onnx")).file_name("m.onnx"));
            client.post(url).multipart(form).send().await.expect("upload")
        }
    };
    refused(upload(anonymous.clone()).await, 401, "unauthenticated", "/v1/models/m2/versions").await;
    refused(upload(tokens["reader"].clone()).await, 403, "forbidden", "/v1/models/m2/versions").await;
    assert_eq!(upload(prefix_pusher.clone()).await.status(), 201);
    // Pushing gives no right to delete.
    let delete = prefix_pusher.delete(app.url("/v1/models/m2/versions/1")).send().await.expect("delete");
    refused(delete, 403, "forbidden", "/v1/models/m2/versions/1").await;

    // A listing shows only what the token may read; the audit log too.
    let (_, listed) = get(&elsewhere, &app, "/v1/models").await;
    let names: Vec<&str> =
        listed["models"].as_array().expect("models").iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names, ["other"]);
    let (_, audit) = get(&elsewhere, &app, "/v1/audit").await;
    let entries = audit["entries"].as_array().expect("entries");
    assert!(!entries.is_empty() && entries.iter().all(|e| e["model"] == "other"), "{audit}");
    // Token changes belong to no model: only an admin of every model sees them.
    let (_, all) = get(&app.client, &app, "/v1/audit").await;
    assert!(all["entries"].as_array().expect("entries").iter().any(|e| e["action"] == "token.create"));

    // Nothing tells a token without a grant whether a model exists.
    let (status_real, real) = get(&elsewhere, &app, "/v1/models/m2").await;
    let (status_none, none) = get(&elsewhere, &app, "/v1/models/m3").await;
    assert_eq!((status_real, status_none), (403, 403));
    assert_eq!(real["message"].as_str().map(|m| m.replace("m2", "m3")), none["message"].as_str().map(str::to_owned));

    // Health, readiness, the protocol's health and server metadata, and the docs stay open.
    for path in ["/healthz", "/readyz", "/v2/health/live", "/v2/health/ready", "/v2", "/openapi.json", "/docs/"] {
        let status = anonymous.get(app.url(path)).send().await.expect("request").status();
        assert_eq!(status, 200, "{path}");
    }
    let (status, me) = get(&elsewhere, &app, "/v1/whoami").await;
    assert_eq!((status, me["principal"].as_str()), (200, Some("elsewhere")));
    assert_eq!(me["grants"], json!([{"role": "admin", "models": "other"}]));
}

async fn get(client: &Client, app: &TestApp, path: &str) -> (u16, Value) {
    let response = client.get(app.url(path)).send().await.expect("request");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// The id of a token's text (`depot_<id>_<secret>`).
fn id_of(token: &str) -> &str {
    token.split('_').nth(1).expect("token id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shown_once_stored_as_hashes_and_managed_by_admins() {
    let app = TestApp::spawn(Backend::Local).await;
    let response = app
        .client
        .post(app.url("/v1/tokens"))
        .json(&json!({"name": "ci", "principal": "ci-pipeline", "grants": [{"role": "pusher", "models": "fraud-*"}]}))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let created: Value = response.json().await.expect("json");
    let token = created["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("depot_") && token.len() == 6 + 12 + 1 + 64, "{token}");
    assert_eq!(created["principal"], "ci-pipeline");
    assert_eq!(created["created_by"], "admin");

    // Listing and getting never show the secret again.
    let (_, listed) = get(&app.client, &app, "/v1/tokens").await;
    assert!(!listed.to_string().contains(&token[19..]), "{listed}");
    let (status, one) = get(&app.client, &app, &format!("/v1/tokens/{}", id_of(&token))).await;
    assert_eq!((status, one["name"].as_str()), (200, Some("ci")));
    assert!(one.get("token").is_none());

    // Only the hash is stored, and it is no token.
    let hash: Vec<u8> = sqlx::query_scalar("SELECT secret_hash FROM api_tokens WHERE id = $1")
        .bind(id_of(&token))
        .fetch_one(&mut app.db().await)
        .await
        .expect("hash");
    let stored: String = sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM api_tokens t")
        .fetch_one(&mut app.db().await)
        .await
        .expect("rows");
    assert!(!stored.contains(&token[19..]), "the secret is not in the database");
    for forged in [format!("depot_{}_{}", id_of(&token), hex::encode(&hash)), hex::encode(&hash)] {
        let response = client_with(&forged).get(app.url("/v1/whoami")).send().await.expect("request");
        assert_error(response, 401, "unauthenticated").await;
    }
    let ci = client_with(&token);
    assert!(one["last_used_at"].is_null(), "{one}");
    assert_eq!(get(&ci, &app, "/v1/whoami").await.1["principal"], "ci-pipeline");
    // Its use is noted (off the request's path, so shortly after).
    let since = Instant::now();
    while get(&app.client, &app, &format!("/v1/tokens/{}", id_of(&token))).await.1["last_used_at"].is_null() {
        assert!(since.elapsed() < Duration::from_secs(3), "last_used_at was never written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A principal lists its own tokens, never others'; it cannot create any without admin.
    let (_, own) = get(&ci, &app, "/v1/tokens").await;
    let principals: Vec<&str> =
        own["tokens"].as_array().expect("tokens").iter().filter_map(|t| t["principal"].as_str()).collect();
    assert_eq!(principals, ["ci-pipeline"]);
    let admins = get(&ci, &app, "/v1/tokens?principal=admin").await;
    assert_eq!(admins.0, 403);
    let bootstrap = get(&app.client, &app, "/v1/tokens?principal=admin").await.1["tokens"][0]["id"].clone();
    let (status, _) = get(&ci, &app, &format!("/v1/tokens/{}", bootstrap.as_str().expect("id"))).await;
    assert_eq!(status, 404, "another principal's token does not exist for it");
    let escalate = ci
        .post(app.url("/v1/tokens"))
        .json(&json!({"name": "x", "principal": "ci-pipeline", "grants": [{"role": "admin", "models": "*"}]}))
        .send()
        .await
        .expect("request");
    assert_error(escalate, 403, "forbidden").await;

    // An admin of some models delegates within them only.
    let team_admin = client_with(&app.token("lead", &[("admin", "fraud-*")]).await);
    let create = |grants: Value| {
        team_admin
            .post(app.url("/v1/tokens"))
            .json(&json!({"name": format!("n{}", grants.to_string().len()), "principal": "bob", "grants": grants}))
            .send()
    };
    assert_eq!(create(json!([{"role": "deployer", "models": "fraud-eu"}])).await.expect("req").status(), 201);
    assert_error(create(json!([{"role": "reader", "models": "*"}])).await.expect("req"), 403, "forbidden").await;

    // Bad requests are 4xx that say what was wrong.
    let bad = |body: Value| app.client.post(app.url("/v1/tokens")).json(&body).send();
    let grants = json!([{"role": "reader", "models": "*"}]);
    assert_error(
        bad(json!({"name": "a", "principal": "a b", "grants": grants})).await.expect("req"),
        400,
        "invalid_principal",
    )
    .await;
    assert_error(bad(json!({"name": "a", "principal": "a", "grants": []})).await.expect("req"), 400, "invalid_grant")
        .await;
    let wrong_role = json!({"name": "a", "principal": "a", "grants": [{"role": "owner", "models": "*"}]});
    assert_error(bad(wrong_role).await.expect("req"), 400, "invalid_grant").await;
    let wrong_pattern = json!({"name": "a", "principal": "a", "grants": [{"role": "reader", "models": "fr*ud"}]});
    assert_error(bad(wrong_pattern).await.expect("req"), 400, "invalid_grant").await;
    let again = json!({"name": "ci", "principal": "ci-pipeline", "grants": grants});
    assert_error(bad(again).await.expect("req"), 409, "token_exists").await;

    // A principal revokes its own token; then it is refused.
    let revoked = ci.delete(app.url(&format!("/v1/tokens/{}", id_of(&token)))).send().await.expect("revoke");
    assert_eq!(revoked.status(), 200);
    let body: Value = revoked.json().await.expect("json");
    assert!(body["revoked_at"].is_string() && body["revoked_by"] == "ci-pipeline", "{body}");
    assert_error(ci.get(app.url("/v1/whoami")).send().await.expect("req"), 401, "unauthenticated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_by_another_replica_within_a_second() {
    let app = TestApp::spawn(Backend::Local).await;
    // The replica trusts its cached tokens for a minute: only the notification can make it
    // refuse the token in time.
    let replica = app.replica(|s| s.auth.token_cache_ms = 60_000).await;
    let token = app.token("alice", &[("reader", "*")]).await;
    let alice = client_with(&token);
    assert_eq!(alice.get(format!("{replica}/v1/models")).send().await.expect("req").status(), 200);
    let revoked = app.client.delete(app.url(&format!("/v1/tokens/{}", id_of(&token)))).send().await.expect("revoke");
    assert_eq!(revoked.status(), 200);
    let since = Instant::now();
    loop {
        let status = alice.get(format!("{replica}/v1/models")).send().await.expect("req").status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(since.elapsed() < Duration::from_secs(1), "the replica still accepts a revoked token after 1 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("revocation reached the replica in {:?}", since.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_use_is_read_again_ahead_of_time_so_that_no_request_waits_for_the_database() {
    let app = TestApp::spawn(Backend::Local).await;
    let replica = app.replica(|s| s.auth.token_cache_ms = 2000).await;
    let token = app.token("alice", &[("reader", "*")]).await;
    let alice = client_with(&token);
    let whoami = || async { alice.get(format!("{replica}/v1/whoami")).send().await.expect("req").status() };

    // First sight reads the token; in the second half of its copy's two seconds, a request
    // has it read again in the background.
    assert_eq!(whoami().await, 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(whoami().await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The tokens table is locked for 1.5 s, across the end of the first copy's two seconds:
    // had the token not been read again, the request that found its copy expired would wait
    // for the lock. The copy read ahead at 1.2 s serves every request instead.
    let mut locker = app.db().await;
    sqlx::query("BEGIN").execute(&mut locker).await.expect("begin");
    sqlx::query("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.expect("lock");
    let locked = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut waited = None;
    while locked.elapsed() < Duration::from_millis(1500) {
        let asked = Instant::now();
        // A request that waits for the lock would wait until it is released, below.
        match tokio::time::timeout(Duration::from_millis(300), whoami()).await {
            Ok(status) => assert_eq!(status, 200),
            Err(_) => {
                waited = Some(asked.duration_since(locked));
                break;
            }
        }
        slowest = slowest.max(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::query("COMMIT").execute(&mut locker).await.expect("unlock");
    assert_eq!(waited, None, "a request waited for the locked tokens table ({:?} after it was locked)", waited);
    assert!(slowest < Duration::from_millis(300), "{slowest:?}");

    // A revocation whose notification is lost (triggers off for this session) still reaches
    // the replica within the copy's two seconds.
    sqlx::query("SET session_replication_role = replica").execute(&mut locker).await.expect("no triggers");
    sqlx::query("UPDATE api_tokens SET revoked_at = now(), revoked_by = 'admin' WHERE id = $1")
        .bind(id_of(&token))
        .execute(&mut locker)
        .await
        .expect("revoke");
    let since = Instant::now();
    while whoami().await == 200 {
        assert!(since.elapsed() < Duration::from_millis(2500), "a revoked token still works after 2.5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(whoami().await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_find_a_token_expired_at_once_share_one_read_of_it() {
    let app = TestApp::spawn(Backend::Local).await;
    let replica = app.replica(|s| s.auth.token_cache_ms = 500).await;
    let token = app.token("alice", &[("reader", "*")]).await;
    let whoami = |token: String| {
        let url = format!("{replica}/v1/whoami");
        async move { client_with(&token).get(url).send().await.expect("req").status().as_u16() }
    };
    assert_eq!(whoami(token.clone()).await, 200);
    // No request for longer than the copy's half-second: no read ahead, the copy expires.
    tokio::time::sleep(Duration::from_millis(700)).await;

    // With the tokens table locked, every read of the token waits: count the waiting queries.
    let mut locker = app.db().await;
    sqlx::query("BEGIN").execute(&mut locker).await.expect("begin");
    sqlx::query("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.expect("lock");
    // The same token's id with a wrong secret shares the read, not the verdict.
    let wrong = format!("{}{}", &token[..token.len() - 4], if token.ends_with("0000") { "1111" } else { "0000" });
    let requests: Vec<_> =
        (0..12).map(|i| tokio::spawn(whoami(if i % 4 == 3 { wrong.clone() } else { token.clone() }))).collect();
    let waiting_reads = || {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
             AND wait_event_type = 'Lock' AND query LIKE '%SELECT id, secret_hash%'",
        )
    };
    let since = Instant::now();
    while waiting_reads().fetch_one(&mut locker).await.expect("count") == 0 {
        assert!(since.elapsed() < Duration::from_secs(5), "no read of the token reached the database");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Time for the other requests' reads to arrive, had they made their own.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = waiting_reads().fetch_one(&mut locker).await.expect("count");
    sqlx::query("COMMIT").execute(&mut locker).await.expect("unlock");
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.expect("request"));
    }
    assert_eq!(waiting, 1, "12 requests that needed the token made {waiting} reads of it");
    assert_eq!(statuses, [200, 200, 200, 401].repeat(3));
    // The copy that read stored serves the next request.
    assert_eq!(whoami(token).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    let app = TestApp::spawn(Backend::Local).await;
    let expires = chrono_in(Duration::from_millis(1500));
    let response = app
        .client
        .post(app.url("/v1/tokens"))
        .json(&json!({"name": "short", "principal": "temp", "grants": [{"role": "reader", "models": "*"}], "expires_at": expires}))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 201);
    let token = response.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned();
    let temp = client_with(&token);
    assert_eq!(temp.get(app.url("/v1/models")).send().await.expect("req").status(), 200);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let body = assert_error(temp.get(app.url("/v1/models")).send().await.expect("req"), 401, "unauthenticated").await;
    assert!(body["message"].as_str().is_some_and(|m| m.contains("expired")), "{body}");
    // One already expired is refused at creation.
    let past = json!({"name": "p", "principal": "temp", "grants": [{"role": "reader", "models": "*"}], "expires_at": "2020-01-01T00:00:00Z"});
    assert_error(app.client.post(app.url("/v1/tokens")).json(&past).send().await.expect("req"), 400, "invalid_request")
        .await;
}

/// An RFC 3339 time `after` from now.
fn chrono_in(after: Duration) -> String {
    (chrono::Utc::now() + after).to_rfc3339()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_failed_attempts_from_one_address_are_slowed_down() {
    let app = TestApp::spawn_with(Backend::Local, |s| s.auth.max_failed_attempts = 3).await;
    let wrong = client_with(&format!("depot_{}_{}", "0".repeat(12), "0".repeat(64)));
    for _ in 0..3 {
        assert_error(wrong.get(app.url("/v1/models")).send().await.expect("req"), 401, "unauthenticated").await;
    }
    assert_error(wrong.get(app.url("/v1/models")).send().await.expect("req"), 429, "too_many_attempts").await;
    // For the rest of the minute a valid token from there learns nothing either.
    assert_error(app.client.get(app.url("/v1/models")).send().await.expect("req"), 429, "too_many_attempts").await;
    // Health stays open.
    assert_eq!(Client::new().get(app.url("/healthz")).send().await.expect("req").status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_may_be_opened_to_requests_without_a_token() {
    let app = TestApp::spawn_with(Backend::Local, |s| s.auth.predict_requires_token = false).await;
    app.create_model("tiny").await;
    assert_eq!(app.upload("tiny", fixture_bytes("tiny.onnx"), None).await.status(), 201);
    let anonymous = Client::new();
    let predicted = anonymous
        .post(app.url("/v1/models/tiny/versions/1/predict"))
        .json(&json_body(TINY_V1))
        .send()
        .await
        .expect("predict");
    assert_eq!(predicted.status(), 200);
    assert_error(anonymous.get(app.url("/v1/models/tiny")).send().await.expect("req"), 401, "unauthenticated").await;
    // A wrong token is still refused, not taken as no token.
    let wrong = client_with("depot_000000000000_0000000000000000000000000000000000000000000000000000000000000000");
    let refused = wrong.post(app.url("/v1/models/tiny/versions/1/predict")).json(&json_body(TINY_V1)).send();
    assert_error(refused.await.expect("req"), 401, "unauthenticated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_off_everyone_may_do_everything() {
    let app = TestApp::spawn_with(Backend::Local, |s| s.auth.mode = depot_api::AuthMode::Off).await;
    let anonymous = Client::new();
    let created = anonymous.post(app.url("/v1/models")).json(&json!({"name": "laptop"})).send().await.expect("req");
    assert_eq!(created.status(), 201);
    assert_eq!(created.json::<Value>().await.expect("json")["created_by"], "anonymous");
}

/// The version that served a version-less prediction of `m`.
async fn served(app: &TestApp) -> String {
    let response =
        app.client.post(app.url("/v1/models/m/predict")).json(&json_body(TINY_V1)).send().await.expect("req");
    assert_eq!(response.status(), 200);
    response.headers()["depot-served-by"].to_str().expect("header").to_owned()
}

async fn act(client: &Client, app: &TestApp, method: Method, path: &str, body: Value) -> (u16, Value) {
    let response = send(client, app, method, path, Some(body)).await;
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_changes_wait_for_another_principals_approval() {
    let app = TestApp::spawn(Backend::Local).await;
    setup(&app).await;
    assert_eq!(app.upload("m", fixture_bytes("tiny.onnx"), None).await.status(), 201);
    let protection = json!({"aliases": ["production"], "deployment": true, "require_approval": true});
    let (status, body) = act(&app.client, &app, Method::PUT, "/v1/models/m/protection", protection.clone()).await;
    assert_eq!((status, &body), (200, &protection));
    let alice = client_with(&app.token("alice", &[("deployer", "m")]).await);
    let alice_again = client_with(&app.token("alice", &[("deployer", "*")]).await);
    let bob_token = app.token("bob", &[("deployer", "m")]).await;
    let bob = client_with(&bob_token);
    let carol = client_with(&app.token("carol", &[("pusher", "m")]).await);

    // A protected alias is a deployer's; the others stay a pusher's.
    let (status, body) = act(&carol, &app, Method::PUT, "/v1/models/m/aliases/production", json!({"version": 1})).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("protected")), "{body}");
    assert_eq!(act(&carol, &app, Method::PUT, "/v1/models/m/aliases/candidate", json!({"version": 2})).await.0, 200);

    // A deploy becomes a pending change; nothing changes yet.
    let response = alice
        .put(app.url("/v1/models/m/deployment"))
        .json(&json!({"version": 2, "reason": "better AUC"}))
        .send()
        .await
        .expect("req");
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().expect("location").to_owned();
    let pending: Value = response.json().await.expect("json");
    let id = pending["id"].as_i64().expect("id");
    assert_eq!(location, format!("/v1/approvals/{id}"));
    assert_eq!(
        (
            pending["state"].as_str(),
            pending["kind"].as_str(),
            pending["version"].as_u64(),
            pending["proposed_by"].as_str()
        ),
        (Some("pending"), Some("deploy"), Some(2), Some("alice"))
    );
    assert_eq!(served(&app).await, "m/1");
    let (_, open) = get(&carol, &app, "/v1/approvals?state=pending").await;
    assert_eq!(open["changes"][0]["id"], id, "{open}");

    // Not by the proposer, whichever token it uses; not by a pusher.
    let approve = format!("/v1/approvals/{id}/approve");
    for client in [&alice, &alice_again] {
        let (status, body) = act(client, &app, Method::POST, &approve, json!({})).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("self_approval")), "{body}");
    }
    assert_eq!(act(&carol, &app, Method::POST, &approve, json!({})).await.0, 403);
    assert_eq!(served(&app).await, "m/1");

    // Another deployer approves: the change is made, and served.
    let (status, approved) = act(&bob, &app, Method::POST, &approve, json!({"reason": "reviewed"})).await;
    assert_eq!(
        (status, approved["state"].as_str(), approved["decided_by"].as_str()),
        (200, Some("approved"), Some("bob"))
    );
    assert_eq!(served(&app).await, "m/2");
    assert_eq!(act(&bob, &app, Method::POST, &approve, json!({})).await.0, 409, "approved once only");

    // Back to a version deployed before: no approval.
    let (status, body) = act(&alice, &app, Method::POST, "/v1/models/m/deployment/rollback", json!({})).await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(1)), "{body}");
    assert_eq!(served(&app).await, "m/1");

    // Rejected: nothing changes.
    let (status, proposed) = act(&alice, &app, Method::PUT, "/v1/models/m/deployment", json!({"version": 3})).await;
    assert_eq!(status, 202);
    let rejected_id = proposed["id"].as_i64().expect("id");
    let (status, rejected) =
        act(&bob, &app, Method::POST, &format!("/v1/approvals/{rejected_id}/reject"), json!({"reason": "no"})).await;
    assert_eq!((status, rejected["state"].as_str()), (200, Some("rejected")));
    assert_eq!(act(&bob, &app, Method::POST, &format!("/v1/approvals/{rejected_id}/approve"), json!({})).await.0, 409);
    assert_eq!(served(&app).await, "m/1");
    // A rollback to a version never deployed is a deploy like any other.
    let (status, _) = act(&alice, &app, Method::POST, "/v1/models/m/deployment/rollback", json!({"version": 3})).await;
    assert_eq!(status, 202);

    // A canary waits too; aborting it does not.
    let (status, canary) =
        act(&alice, &app, Method::PUT, "/v1/models/m/deployment/canary", json!({"version": 2, "percent": 20})).await;
    assert_eq!((status, canary["kind"].as_str()), (202, Some("canary")));
    let path = format!("/v1/approvals/{}/approve", canary["id"]);
    assert_eq!(act(&bob, &app, Method::POST, &path, json!({})).await.0, 200);
    let (_, deployment) = get(&bob, &app, "/v1/models/m/deployment").await;
    assert_eq!(deployment["canary"]["version"], 2, "{deployment}");
    let aborted = alice.delete(app.url("/v1/models/m/deployment/canary")).send().await.expect("req");
    assert_eq!(aborted.status(), 200);

    // A protected alias: proposed, then approved.
    let (status, alias) =
        act(&alice, &app, Method::PUT, "/v1/models/m/aliases/production", json!({"version": 2})).await;
    assert_eq!((status, alias["alias"].as_str()), (202, Some("production")));
    assert_eq!(get(&bob, &app, "/v1/models/m/aliases/production").await.0, 404);
    let path = format!("/v1/approvals/{}/approve", alias["id"]);
    assert_eq!(act(&bob, &app, Method::POST, &path, json!({})).await.0, 200);
    assert_eq!(get(&bob, &app, "/v1/models/m/aliases/production").await.1["version"], 2);

    // Each step is in the audit log; the change is made by the approver's token.
    let (_, audit) = get(&app.client, &app, "/v1/audit?model=m&limit=200").await;
    let entries = audit["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["approval.propose", "approval.approve", "approval.reject", "model.protect"] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    let deploy =
        entries.iter().find(|e| e["action"] == "deployment.deploy" && e["version"] == 2).expect("the approved deploy");
    assert_eq!((deploy["actor"].as_str(), deploy["token"].as_str()), (Some("bob"), Some(id_of(&bob_token))));
    assert_eq!(deploy["reason"], "reviewed");
    let approval = entries.iter().find(|e| e["action"] == "approval.approve").expect("approval");
    assert_eq!(approval["details"]["proposed_by"], "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_changes_expire_and_then_change_nothing() {
    let app = TestApp::spawn_with(Backend::Local, |s| s.auth.approval_ttl_s = 1).await;
    setup(&app).await;
    let protection = json!({"deployment": true, "require_approval": true});
    assert_eq!(act(&app.client, &app, Method::PUT, "/v1/models/m/protection", protection).await.0, 200);
    let alice = client_with(&app.token("alice", &[("deployer", "m")]).await);
    let bob = client_with(&app.token("bob", &[("deployer", "m")]).await);
    let (status, proposed) = act(&alice, &app, Method::PUT, "/v1/models/m/deployment", json!({"version": 2})).await;
    assert_eq!(status, 202);
    let id = proposed["id"].as_i64().expect("id");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, change) = get(&bob, &app, &format!("/v1/approvals/{id}")).await;
    assert_eq!(change["state"], "expired");
    let (status, body) = act(&bob, &app, Method::POST, &format!("/v1/approvals/{id}/approve"), json!({})).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("approval_closed")), "{body}");
    assert_eq!(served(&app).await, "m/1");
    // The sweep records the expiry (it runs every 5 s).
    let since = Instant::now();
    loop {
        let (_, audit) = get(&app.client, &app, "/v1/audit?model=m").await;
        if audit["entries"].as_array().expect("entries").iter().any(|e| e["action"] == "approval.expire") {
            break;
        }
        assert!(since.elapsed() < Duration::from_secs(12), "no approval.expire entry: {audit}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_names_the_actor_and_its_token_decides_the_rights() {
    let app =
        TestApp::spawn_with(Backend::Local, |s| s.auth.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await;
    let proxy_token = app.token("sso-proxy", &[("pusher", "team-*")]).await;
    let proxy = client_with(&proxy_token);
    let created = proxy
        .post(app.url("/v1/models"))
        .header("x-depot-actor", "alice@example.com")
        .json(&json!({"name": "team-a"}))
        .send()
        .await
        .expect("req");
    assert_eq!(created.status(), 201);
    assert_eq!(created.json::<Value>().await.expect("json")["created_by"], "alice@example.com");
    let (_, audit) = get(&app.client, &app, "/v1/audit?model=team-a").await;
    assert_eq!(audit["entries"][0]["actor"], "alice@example.com");
    assert_eq!(audit["entries"][0]["token"], id_of(&proxy_token));
    // The proxy's grants still decide: no model outside team-*, whoever it names.
    let outside = proxy
        .post(app.url("/v1/models"))
        .header("x-depot-actor", "admin")
        .json(&json!({"name": "other"}))
        .send()
        .await
        .expect("req");
    assert_error(outside, 403, "forbidden").await;
    let invalid = proxy.get(app.url("/v1/models")).header("x-depot-actor", "not a name").send().await.expect("req");
    assert_error(invalid, 400, "invalid_principal").await;
}
