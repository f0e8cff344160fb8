//! What the tests of the `depot` binary share: real `depot serve` processes.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};

pub struct Server {
    child: Child,
    pub base: String,
    token_file: PathBuf,
}

impl Server {
    /// The admin token the first server on a database wrote (`Authorization: Bearer` value).
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(&self.token_file).expect("the first start writes an admin token").trim().to_owned()
    }

    /// A client that sends the admin token with every request.
    #[allow(dead_code, reason = "each test binary compiles this module; not every one uses it")]
    pub fn admin_client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = format!("Bearer {}", self.admin_token());
        headers.insert(reqwest::header::AUTHORIZATION, value.parse().expect("header value"));
        reqwest::Client::builder().default_headers(headers).build().expect("client")
    }

    /// SIGKILL: the process ends at once, mid-whatever.
    #[allow(dead_code, reason = "each test binary compiles this module; not every one kills servers")]
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }

    /// Sends SIGTERM (a graceful stop: drain, then finish what is in flight).
    #[allow(dead_code, reason = "each test binary compiles this module; not every one stops servers")]
    pub fn terminate(&self) {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success(), "kill -TERM");
    }

    /// The exit status, once the process has exited within `timeout`.
    #[allow(dead_code, reason = "each test binary compiles this module; not every one stops servers")]
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// The server's standard error, when it was started with `logs`.
    #[allow(dead_code, reason = "each test binary compiles this module; not every one reads the logs")]
    pub fn stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn database_url() -> String {
    let postgres = std::env::var("DEPOT_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    format!("{postgres}/depot_test_{}", uuid::Uuid::new_v4().simple())
}

/// Starts `depot serve` on a free port with `env` on top of the test settings; its standard
/// error is piped when `logs`, else inherited.
pub fn start(database_url: &str, storage: &std::path::Path, env: &[(&str, &str)], logs: bool) -> Server {
    let library = std::env::var_os("DEPOT_ORT_LIBRARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".depot/lib/libonnxruntime.so.1.31.0"));
    let token_file = storage.join("admin-token");
    let mut command = Command::new(env!("CARGO_BIN_EXE_depot"));
    command
        .arg("serve")
        .env("DEPOT_SERVER__LISTEN", "127.0.0.1:0")
        .env("DEPOT_GRPC__LISTEN", "127.0.0.1:0")
        .env("DEPOT_SERVER__WORKERS", "1")
        .env("DEPOT_DATABASE__URL", database_url)
        .env("DEPOT_STORAGE__URL", storage)
        .env("DEPOT_RUNTIME__LIBRARY_PATH", library)
        .env("DEPOT_AUTH__BOOTSTRAP_TOKEN_FILE", &token_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(if logs { Stdio::piped() } else { Stdio::inherit() });
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start depot serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    Server { child, base, token_file }
}

/// Creates the model `iris` and registers the scikit-learn fixture as its version 1.
#[allow(dead_code, reason = "each test binary compiles this module; not every one uploads")]
pub async fn upload_iris(client: &reqwest::Client, base: &str) {
    let created = client.post(format!("{base}/v1/models")).json(&serde_json::json!({"name": "iris"})).send().await;
    assert_eq!(created.expect("create").status(), 201);
    let bytes = std::fs::read(repo().join("tests/fixtures/sklearn_logreg.onnx")).expect("fixture");
    let form = reqwest::multipart::Form::new().part("artifact", reqwest::multipart::Part::bytes(bytes));
    let uploaded = client.post(format!("{base}/v1/models/iris/versions")).multipart(form).send().await.expect("upload");
    assert_eq!(uploaded.status(), 201);
}

/// A PostgreSQL cluster of a test's own, on its own port (the shared one must keep running
/// while this one is stopped and started). Run as the `postgres` user, as PostgreSQL requires.
#[allow(dead_code, reason = "each test binary compiles this module; not every one needs its own cluster")]
pub struct OwnPostgres {
    dir: tempfile::TempDir,
    pub port: u16,
}

#[allow(dead_code, reason = "each test binary compiles this module; not every one needs its own cluster")]
impl OwnPostgres {
    /// Creates and starts a cluster (about 3 s).
    pub fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("depot-pg-").tempdir().expect("tempdir");
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        let status = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status().expect("chown");
        assert!(status.success(), "chown the cluster directory to postgres");
        let cluster = Self { dir, port };
        cluster.as_postgres(&format!("{} -D {} -U postgres --auth=trust >/dev/null", bin("initdb"), cluster.data()));
        cluster.resume();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn as_postgres(&self, command: &str) {
        let status =
            Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", command]).status().expect("su postgres");
        assert!(status.success(), "as postgres: {command}");
    }

    /// The URL of a fresh database on this cluster (created by the server's first start).
    pub fn database_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/depot_test_{}", self.port, uuid::Uuid::new_v4().simple())
    }

    /// Stops the server (fast: clients are disconnected), keeping the data.
    pub fn stop(&self) {
        self.as_postgres(&format!("{} -D {} -m fast -w stop >/dev/null", bin("pg_ctl"), self.data()));
    }

    /// Starts it again.
    pub fn resume(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.path().display());
        self.as_postgres(&format!(
            "{} -D {} -o '{options}' -l {}/log -w start >/dev/null",
            bin("pg_ctl"),
            self.data(),
            self.dir.path().display()
        ));
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new("su")
            .args([
                "postgres",
                "-s",
                "/bin/sh",
                "-c",
                &format!("{} -D {} -m immediate stop", bin("pg_ctl"), self.data()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A PostgreSQL server program (Debian keeps them out of PATH).
fn bin(name: &str) -> String {
    let found = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|version| version.path().join("bin").join(name))
        .find(|path| path.exists());
    found.map_or_else(|| name.to_owned(), |path| path.display().to_string())
}
