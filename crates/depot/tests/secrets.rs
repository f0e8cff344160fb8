//! No token text reaches the log of a real `depot serve`, at any level up to debug, whatever
//! is done with tokens; failed attempts are logged with the token's public id only.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{database_url, start};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_text_never_reaches_the_log() {
    let storage = tempfile::tempdir().expect("tempdir");
    let env = [("RUST_LOG", "debug"), ("DEPOT_LOG_FORMAT", "json")];
    let mut server = start(&database_url(), storage.path(), &env, true);
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = server.stderr().expect("piped stderr");
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut log = sink.lock().expect("log");
            log.push_str(&line);
            log.push('\n');
        }
    });
    let admin_token = server.admin_token();
    let admin = server.admin_client();
    let base = &server.base;

    let created = admin
        .post(format!("{base}/v1/tokens"))
        .json(&json!({"name": "ci", "principal": "ci", "grants": [{"role": "reader", "models": "*"}]}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let token = created.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned();
    let id = token.split('_').nth(1).expect("id").to_owned();
    let bearer = |t: &str| format!("Bearer {t}");
    let client = reqwest::Client::new();
    let used = client.get(format!("{base}/v1/models")).header("authorization", bearer(&token)).send().await;
    assert_eq!(used.expect("use").status(), 200);
    // The right id with a wrong secret, then revoked.
    let forged = format!("depot_{id}_{}", "f".repeat(64));
    let refused = client.get(format!("{base}/v1/models")).header("authorization", bearer(&forged)).send().await;
    assert_eq!(refused.expect("forged").status(), 401);
    let revoked = admin.delete(format!("{base}/v1/tokens/{id}")).send().await.expect("revoke");
    assert_eq!(revoked.status(), 200);
    let after = client.get(format!("{base}/v1/models")).header("authorization", bearer(&token)).send().await;
    assert_eq!(after.expect("revoked").status(), 401);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = log.lock().expect("log").clone();
    assert!(log.lines().count() > 5, "the log was captured: {log}");
    for (what, secret) in [("token", &token[19..]), ("admin token", &admin_token[19..]), ("forged", &forged[19..])] {
        assert!(!log.contains(secret), "the {what}'s secret is in the log");
    }
    let failures: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l.to_string().contains("auth.failure"))
        .collect();
    let reasons: Vec<&str> = failures.iter().filter_map(|l| l["auth.failure"].as_str()).collect();
    assert_eq!(reasons, ["wrong_secret", "revoked"], "{failures:#?}");
    assert!(failures.iter().all(|l| l["auth.token"] == id.as_str()), "failed attempts name the token's id");
}

/// An operator locked out of the API makes an admin token from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_makes_a_working_token_from_the_database() {
    let storage = tempfile::tempdir().expect("tempdir");
    let database = database_url();
    let server = start(&database, storage.path(), &[], false);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_depot"))
        .args(["admin-token", "--principal", "ops"])
        .env("DEPOT_DATABASE__URL", &database)
        .output()
        .expect("run depot admin-token");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).expect("utf-8").trim().to_owned();
    let me: Value = reqwest::Client::new()
        .get(format!("{}/v1/whoami", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("whoami")
        .json()
        .await
        .expect("json");
    assert_eq!(me["principal"], "ops");
    assert_eq!(me["grants"], json!([{"role": "admin", "models": "*"}]));
    let (_, audit) = {
        let response = server.admin_client().get(format!("{}/v1/audit", server.base)).send().await.expect("audit");
        (response.status(), response.json::<Value>().await.expect("json"))
    };
    assert_eq!(audit["entries"][0]["action"], "token.create");
    assert_eq!(audit["entries"][0]["actor"], "depot-cli");
}
