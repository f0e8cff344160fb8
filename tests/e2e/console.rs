//! The web console's server side: its files, with their security headers, and the browser
//! session (an HttpOnly cookie) with its cross-site request forgery check. (The pages themselves
//! are tested in a real browser: tests/console.)

use depot_tests::{Backend, TestApp, assert_error};
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, ETAG, IF_NONE_MATCH, LOCATION, SET_COOKIE};
use serde_json::json;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

#[tokio::test]
async fn the_console_files_come_from_the_binary_with_a_strict_policy() {
    let app = TestApp::spawn(Backend::Local).await;
    let client = no_redirects();
    let moved = client.get(app.url("/console")).send().await.expect("request");
    assert_eq!(moved.status(), 308);
    assert_eq!(moved.headers()[LOCATION], "/console/");
    for (path, kind) in [
        ("/console/", "text/html"),
        ("/console/assets/app.js", "text/javascript"),
        ("/console/assets/app.css", "text/css"),
    ] {
        let response = client.get(app.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers()[CONTENT_TYPE].to_str().expect("ascii").starts_with(kind), "{path}");
        let policy = response.headers()[CONTENT_SECURITY_POLICY].to_str().expect("ascii").to_owned();
        assert!(policy.starts_with("default-src 'none'; script-src 'self'; style-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        let etag = response.headers()[ETAG].clone();
        let again = client.get(app.url(path)).header(IF_NONE_MATCH, etag).send().await.expect("request");
        assert_eq!(again.status(), 304, "{path} is revalidated, not sent again");
    }
    let missing = client.get(app.url("/console/assets/other.js")).send().await.expect("request");
    assert_error(missing, 404, "route_not_found").await;
}

/// The cookies a response sets, as `name=value` pairs, and their attributes.
fn cookies(response: &reqwest::Response) -> Vec<String> {
    response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().expect("ascii").to_owned()).collect()
}

fn value_of(cookies: &[String], name: &str) -> String {
    let cookie = cookies.iter().find(|c| c.starts_with(&format!("{name}="))).expect(name);
    cookie.split(';').next().expect("pair")[name.len() + 1..].to_owned()
}

#[tokio::test]
async fn a_session_cookie_authenticates_and_changes_need_the_csrf_header() {
    let app = TestApp::spawn(Backend::Local).await;
    let client = no_redirects();
    let refused = client.post(app.url("/console/session")).json(&json!({"token": "depot_000000000000_nope"})).send();
    assert_error(refused.await.expect("request"), 401, "unauthenticated").await;
    // The body is a JSON object, as everywhere (serde would take an array for the struct).
    let array = client.post(app.url("/console/session")).json(&json!([app.admin_token])).send();
    assert_error(array.await.expect("request"), 400, "invalid_request").await;

    let logged_in =
        client.post(app.url("/console/session")).json(&json!({"token": app.admin_token})).send().await.expect("login");
    assert_eq!(logged_in.status(), 200);
    let set = cookies(&logged_in);
    let session = set.iter().find(|c| c.starts_with("depot_session=")).expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/"),
        "{session}"
    );
    let csrf_cookie = set.iter().find(|c| c.starts_with("depot_csrf=")).expect("csrf cookie");
    assert!(!csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");
    let who: serde_json::Value = logged_in.json().await.expect("json");
    assert_eq!(who["principal"], "admin");
    let (token, csrf) = (value_of(&set, "depot_session"), value_of(&set, "depot_csrf"));
    let jar = format!("depot_session={token}; depot_csrf={csrf}");

    // Reading needs only the cookie.
    let listed = client.get(app.url("/v1/models")).header(COOKIE, &jar).send().await.expect("list");
    assert_eq!(listed.status(), 200);
    // A change without the header (a forged cross-site form) is refused and changes nothing.
    for header in [None, Some("wrong"), Some("")] {
        let mut forged = client.post(app.url("/v1/models")).header(COOKIE, &jar).json(&json!({"name": "forged"}));
        if let Some(value) = header {
            forged = forged.header("x-csrf-token", value);
        }
        let body = assert_error(forged.send().await.expect("post"), 403, "forbidden").await;
        assert!(body["message"].as_str().is_some_and(|m| m.contains("X-CSRF-Token")), "{body}");
    }
    let (status, _) = app.get_json("/v1/models/forged").await;
    assert_eq!(status, 404, "the forged request created nothing");
    // With it, the change is made.
    let created = client
        .post(app.url("/v1/models"))
        .header(COOKIE, &jar)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "from-console"}))
        .send()
        .await
        .expect("post");
    assert_eq!(created.status(), 201);
    // A bearer token needs no CSRF header (no browser sends it by itself).
    let created = app.client.post(app.url("/v1/models")).json(&json!({"name": "from-a-script"})).send().await;
    assert_eq!(created.expect("post").status(), 201);

    let logged_out = client.delete(app.url("/console/session")).header(COOKIE, &jar).send().await.expect("logout");
    assert_eq!(logged_out.status(), 204);
    let cleared = cookies(&logged_out);
    assert_eq!(cleared.len(), 2);
    assert!(cleared.iter().all(|c| c.contains("Max-Age=0")), "{cleared:?}");
    let without = client.get(app.url("/v1/models")).send().await.expect("list");
    assert_error(without, 401, "unauthenticated").await;
}
