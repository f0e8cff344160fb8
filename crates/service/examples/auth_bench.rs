//! The cost of authenticating one request on the hot path: `Auth::authenticate_now` with a
//! token this replica holds in its cache (what every request after the first one of a token
//! does within `auth.token_cache_ms`), beside `auth.mode = off`, in one process.
//!
//! `cargo run --release -p depot-service --example auth_bench -- [SECONDS]` (default 3 per
//! phase). Makes a database `depot_bench_auth_<random>` on DEPOT_BENCH_POSTGRES (default
//! postgres://postgres@127.0.0.1:5432) and drops it at the end.

use std::time::{Duration, Instant};

use depot_domain::{Grant, ModelName, ModelPattern, Permission, Principal, Role};
use depot_service::{Actor, Auth, AuthConfig, AuthMode, Catalog, Credentials, DatabaseConfig, TokenRequest};

fn measure(label: &str, seconds: f64, mut call: impl FnMut() -> bool) {
    // Warm up, then count calls in batches until the time is up.
    for _ in 0..10_000 {
        assert!(call());
    }
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        for _ in 0..10_000 {
            assert!(call());
        }
        calls += 10_000;
    }
    let ns = started.elapsed().as_nanos() as f64 / calls as f64;
    println!("{label:<44} {ns:>8.1} ns/request  ({calls} requests)");
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let seconds: f64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(3.0);
    let postgres =
        std::env::var("DEPOT_BENCH_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let database = format!("depot_bench_auth_{}", std::process::id());
    let config = DatabaseConfig { url: format!("{postgres}/{database}"), ..DatabaseConfig::default() };
    let catalog = Catalog::connect(&config).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    // A cache that never expires within the run: every measured call finds the token cached.
    let auth = Auth::new(
        catalog.clone(),
        AuthConfig { token_cache_ms: u64::MAX / 2, ..AuthConfig::default() },
        Default::default(),
    );
    let request = TokenRequest {
        name: "bench".to_owned(),
        principal: Principal::parse("bench")?,
        grants: vec![Grant::new(Role::Predictor, ModelPattern::parse("tiny")?)],
        expires_at: None,
    };
    let token = auth.create_token(&Actor::system("bench"), request).await.map_err(|e| anyhow::anyhow!("{e}"))?.text;
    let model = ModelName::parse("tiny")?;
    let credentials = Credentials { bearer: Some(&token), peer: None, claimed_actor: None, predicting: true };
    // The first request reads the token from the database; the others find it cached.
    auth.authenticate(credentials).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let off =
        Auth::new(catalog.clone(), AuthConfig { mode: AuthMode::Off, ..AuthConfig::default() }, Default::default());
    let anonymous = Credentials { bearer: None, ..credentials };

    println!("auth_bench: {seconds} s per phase, one thread");
    for _ in 0..2 {
        measure("auth.mode = off (no token)", seconds, || {
            off.authenticate_now(&anonymous)
                .is_some_and(|a| a.is_ok_and(|a| a.require(Permission::Predict, &model).is_ok()))
        });
        // With a long cache so that the phase never re-reads the token from the database.
        measure("auth.mode = tokens, cached token, predictor", seconds, || {
            auth.authenticate_now(&credentials)
                .is_some_and(|a| a.is_ok_and(|a| a.require(Permission::Predict, &model).is_ok()))
        });
    }
    catalog.close().await;
    drop_database(&postgres, &database);
    Ok(())
}

fn drop_database(postgres: &str, database: &str) {
    let _ = std::process::Command::new("psql")
        .arg(format!("{postgres}/postgres"))
        .args(["-qc", &format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)")])
        .status();
}
