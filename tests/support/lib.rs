//! Shared helpers of the end-to-end tests: a real server on port 0 over a fresh database and a
//! fresh artifact store (a temporary directory, or a new bucket on the S3-compatible server that
//! `scripts/test.sh` starts).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use depot_api::{Application, ReplicaState, Settings};
use depot_storage::faults::{Faults, faulty_store};
use depot_storage::{ArtifactStore, StorageConfig};
use sqlx::{Connection, PgConnection};

/// Which artifact store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_url() -> String {
    std::env::var("DEPOT_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// The S3-compatible endpoint `scripts/test.sh` started. Tests that need it fail (not skip) without.
pub fn s3_endpoint() -> String {
    std::env::var("DEPOT_TEST_S3_ENDPOINT").expect(
        "DEPOT_TEST_S3_ENDPOINT is not set: run the tests with scripts/test.sh, which starts the local S3 server",
    )
}

/// The ONNX Runtime library `scripts/fetch-onnxruntime.sh` fetched.
pub fn ort_library() -> PathBuf {
    std::env::var_os("DEPOT_ORT_LIBRARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.depot/lib/libonnxruntime.so.1.31.0"))
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// Runs `scripts/<script>` with the project's Python (`.venv`, made by `scripts/test.sh`) and
/// `args`, `env` on top of its environment; panics with its output unless it succeeds.
pub async fn run_python_check(script: &str, args: &[&str], env: &[(&str, &str)]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = tokio::process::Command::new(root.join(".venv/bin/python"));
    command.arg(root.join("scripts").join(script)).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().await.unwrap_or_else(|e| panic!("run {script} (scripts/test.sh creates .venv): {e}"));
    assert!(
        output.status.success(),
        "{script} {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A running server and handles on what it stores.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    /// Sends the admin token the server created at its first start with every request.
    pub client: reqwest::Client,
    /// That token.
    pub admin_token: String,
    /// What the server was started with.
    pub settings: Settings,
    /// The separate metrics listener's address, when `metrics.listen` is set.
    pub metrics_address: Option<std::net::SocketAddr>,
    /// The gRPC listener's address (`host:port`), when `grpc.enabled`.
    pub grpc_address: Option<std::net::SocketAddr>,
    pub database_url: String,
    pub storage: StorageConfig,
    pub faults: Arc<Faults>,
    /// The server's replica state (readiness, draining).
    pub replica: Arc<ReplicaState>,
    _dir: tempfile::TempDir,
}

/// Settings for a test server: port 0, a fresh database, a fresh store, and a temporary
/// directory (for the local store and the admin token of the first start).
pub async fn test_settings(backend: Backend) -> anyhow::Result<(Settings, tempfile::TempDir)> {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".to_owned();
    settings.grpc.listen = "127.0.0.1:0".to_owned();
    settings.server.workers = 2;
    settings.database.url = format!("{}/depot_test_{}", postgres_url(), uuid::Uuid::new_v4().simple());
    settings.database.max_connections = 20;
    settings.runtime.library_path = ort_library();
    let dir = tempfile::tempdir()?;
    settings.auth.bootstrap_token_file = dir.path().join("admin-token");
    match backend {
        Backend::Local => {
            settings.storage.url = dir.path().join("artifacts").display().to_string();
        }
        Backend::S3 => {
            let endpoint = s3_endpoint();
            let bucket = format!("depot-test-{}", uuid::Uuid::new_v4().simple());
            let created = reqwest::Client::new().put(format!("{endpoint}/{bucket}")).send().await?;
            anyhow::ensure!(created.status().is_success(), "creating bucket: {}", created.status());
            settings.storage = s3_config(&endpoint, &bucket);
        }
    }
    Ok((settings, dir))
}

pub fn s3_config(endpoint: &str, bucket: &str) -> StorageConfig {
    StorageConfig {
        url: format!("s3://{bucket}/depot"),
        options: [
            ("endpoint", endpoint),
            ("region", "us-east-1"),
            ("access_key_id", "test"),
            ("secret_access_key", "test"),
            ("allow_http", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns a server after `adjust` has changed its settings.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Self {
        let (mut settings, dir) = test_settings(backend).await.expect("test settings");
        adjust(&mut settings);
        Self::start(settings, dir).await.expect("server starts")
    }

    pub async fn start(settings: Settings, dir: tempfile::TempDir) -> anyhow::Result<Self> {
        let faults = Faults::none();
        let store = faulty_store(&settings.storage, faults.clone())?;
        let database_url = settings.database.url.clone();
        let storage = settings.storage.clone();
        let token_file = settings.auth.bootstrap_token_file.clone();
        let app = Application::build_with_store(settings.clone(), store).await.context("building the application")?;
        let base = format!("http://{}", app.address());
        let metrics_address = app.metrics_address();
        let grpc_address = app.grpc_address();
        let replica = app.replica();
        tokio::spawn(app.run_until_stopped());
        // With authentication off no token is written (and none is needed).
        let admin_token = std::fs::read_to_string(&token_file).map(|t| t.trim().to_owned()).unwrap_or_default();
        let client = if admin_token.is_empty() { reqwest::Client::new() } else { client_with(&admin_token) };
        Ok(Self {
            base,
            client,
            admin_token,
            settings,
            metrics_address,
            grpc_address,
            database_url,
            storage,
            faults,
            replica,
            _dir: dir,
        })
    }

    /// Starts a second server (a replica) on this one's database and store, after `adjust` has
    /// changed its settings; its base URL.
    pub async fn replica(&self, adjust: impl FnOnce(&mut Settings)) -> String {
        let mut settings = self.settings.clone();
        adjust(&mut settings);
        let store = ArtifactStore::from_config(&settings.storage).expect("store");
        let app = Application::build_with_store(settings, store).await.expect("the replica starts");
        let base = format!("http://{}", app.address());
        tokio::spawn(app.run_until_stopped());
        base
    }

    /// Creates a token for `principal` with `grants` (`(role, models)` pairs) as the admin; its
    /// text.
    pub async fn token(&self, principal: &str, grants: &[(&str, &str)]) -> String {
        let grants: Vec<_> =
            grants.iter().map(|(role, models)| serde_json::json!({"role": role, "models": models})).collect();
        let name = format!("t-{}", uuid::Uuid::new_v4().simple());
        let response = self
            .client
            .post(self.url("/v1/tokens"))
            .json(&serde_json::json!({"name": name, "principal": principal, "grants": grants}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 201, "creating a token for {principal}");
        let body: serde_json::Value = response.json().await.expect("json");
        body["token"].as_str().expect("token text").to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The store the server writes to, seen directly.
    pub fn store(&self) -> ArtifactStore {
        ArtifactStore::from_config(&self.storage).expect("store")
    }

    pub async fn blob_count(&self) -> usize {
        self.store().list_blobs().await.expect("list blobs").len()
    }

    pub async fn staging_count(&self) -> usize {
        self.store().list_staging().await.expect("list staging").len()
    }

    /// Waits up to 5 s for background clean-up (aborted uploads) to leave no staging object.
    pub async fn staging_settles_to_zero(&self) -> bool {
        for _ in 0..50 {
            if self.staging_count().await == 0 {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    }

    pub async fn db(&self) -> PgConnection {
        PgConnection::connect(&self.database_url).await.expect("connect to test database")
    }

    pub async fn version_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM versions").fetch_one(&mut self.db().await).await.expect("count")
    }

    pub async fn create_model(&self, name: &str) {
        let response = self
            .client
            .post(self.url("/v1/models"))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 201, "creating model {name}: {}", response.text().await.unwrap_or_default());
    }

    /// Uploads `bytes` as a version of `model`, with an optional metadata part.
    /// Creates the model `name` and registers the fixture `file` as its version 1.
    pub async fn register_fixture(&self, name: &str, file: &str) {
        self.create_model(name).await;
        let response = self.upload(name, fixture_bytes(file), None).await;
        assert_eq!(response.status(), 201, "{file}: {}", response.text().await.unwrap_or_default());
    }

    pub async fn upload(&self, model: &str, bytes: Vec<u8>, metadata: Option<serde_json::Value>) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new();
        if let Some(metadata) = metadata {
            form = form.text("metadata", metadata.to_string());
        }
        form = form.part("artifact", reqwest::multipart::Part::bytes(bytes).file_name("model.bin"));
        self.client
            .post(self.url(&format!("/v1/models/{model}/versions")))
            .multipart(form)
            .send()
            .await
            .expect("upload request")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(self.url(path)).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// A client that sends `token` with every request.
pub fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header value"));
    reqwest::Client::builder().default_headers(headers).build().expect("client")
}

/// Reads a JSON error body and checks its code.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    let actual = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    assert_eq!(actual, status, "unexpected status; body: {body}");
    assert_eq!(body["code"], code, "unexpected error code; body: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "error without message: {body}");
    body
}
