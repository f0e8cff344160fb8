//! Scale-out behind a real load balancer: three `depot serve` replicas on one database and one
//! S3 bucket (the moto server `scripts/test.sh` starts), behind HAProxy (Debian's package, which
//! `scripts/test.sh` installs) whose health check is `GET /readyz`, under constant prediction
//! load through HAProxy. One run goes through four phases:
//! - a rolling restart (SIGTERM each replica in turn, wait until HAProxy has it back): no
//!   request fails;
//! - two deploys and a rollback made through one replica: within a second all three serve the
//!   new version through HAProxy, and no response names a version other than the old or the new;
//! - a fourth replica started cold (in HAProxy's configuration from the start, down until its
//!   health check passes) joins without a failed request and serves the deployed version;
//! - a replica killed with SIGKILL: at most what was in flight fails (HAProxy replays a
//!   prediction that got no answer, see `haproxy_config`), and nothing once HAProxy has marked
//!   it down.
//!
//! `scripts/bench-scale-out.sh` runs the same phases as a benchmark under heavier load.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, database_url, repo, start};
use serde_json::{Value, json};

/// Load tasks, each looping predictions through HAProxy: the most requests in flight at once.
const TASKS: usize = 4;
/// How long a replica told to stop keeps serving while not ready. HAProxy checks every 200 ms,
/// so it has taken the replica out long before the replica stops accepting.
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// The bound on a deployment change reaching every replica.
const PROPAGATION_BOUND: Duration = Duration::from_secs(1);
/// HAProxy's name for replica `i` (0-based) is `REPLICAS[i]`.
const REPLICAS: [&str; 4] = ["r1", "r2", "r3", "r4"];
const ROW: [[f64; 4]; 1] = [[5.9, 3.0, 5.1, 1.8]];

/// One prediction through the load balancer.
#[derive(Debug, Clone)]
struct Sample {
    started: Instant,
    ended: Instant,
    /// The HAProxy server that answered (HAProxy's `depot-lb-server` response header).
    replica: Option<String>,
    /// The version the answer names (body and `depot-served-by` agree), on a 200.
    version: Option<u64>,
    /// What went wrong, on anything but a well-formed 200.
    failure: Option<String>,
}

impl Sample {
    fn from(&self, replica: &str) -> bool {
        self.replica.as_deref() == Some(replica)
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn s3_endpoint() -> String {
    std::env::var("DEPOT_TEST_S3_ENDPOINT").expect(
        "DEPOT_TEST_S3_ENDPOINT is not set: run the tests with scripts/test.sh, which starts the local S3 server",
    )
}

/// HAProxy's program: Debian keeps it in /usr/sbin, which is not on every PATH.
fn haproxy_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join("haproxy")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain([PathBuf::from("/usr/sbin/haproxy")]).find(|path| path.is_file()).expect(
        "haproxy is not installed: scripts/test.sh installs it (apt-get install haproxy), as this test needs a real load balancer",
    )
}

/// The load balancer's configuration: a frontend on `frontend`, a stats page (CSV at
/// `/stats;csv`) on `stats`, and the replicas on `replicas`, checked on `/readyz`.
fn haproxy_config(frontend: u16, stats: u16, replicas: &[u16]) -> String {
    let servers: String =
        replicas.iter().zip(REPLICAS).map(|(port, name)| format!("  server {name} 127.0.0.1:{port}\n")).collect();
    format!(
        "global
  maxconn 4096

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 500ms
  # A replica that refuses the connection (killed, not yet marked down) costs nothing: the
  # connection is retried, and `redispatch 1` sends every retry to another server.
  retries 3
  option redispatch 1

frontend depot
  bind 127.0.0.1:{frontend}
  default_backend replicas

frontend stats
  bind 127.0.0.1:{stats}
  stats enable
  stats uri /stats

backend replicas
  balance roundrobin
  # Readiness: 503 while a replica loads its deployed versions and from the moment it is told
  # to stop (it drains for server.drain_grace_s, still serving, while this check takes it out).
  option httpchk GET /readyz
  http-check expect status 200
  # Every 200 ms; one failure takes a server out, one success puts it back. HAProxy checks
  # every server as it starts, so a replica that has yet to start is down within milliseconds
  # and stays down until a check passes (a request that reached it before is refused, then
  # redispatched).
  default-server check inter 200ms fall 1 rise 1
  # A request already sent to a replica that then dies gets no response at all. HAProxy replays
  # it on another replica (empty-response) only for predictions, which have no side effect; a
  # registry call (an upload, a deploy) that got no answer is left to the client to retry.
  # The replay needs the whole request in HAProxy's buffer (16 kB by default): larger bodies
  # are never replayed.
  retry-on conn-failure empty-response
  http-request disable-l7-retry unless METH_POST {{ path_end /predict /infer }}
  # Which replica answered, for the test to see.
  http-response set-header depot-lb-server %[srv_name]
{servers}"
    )
}

/// HAProxy in the foreground, as a child process that is killed on drop.
struct Haproxy {
    child: Child,
    base: String,
    stats: String,
    log: PathBuf,
}

impl Haproxy {
    fn start(dir: &Path, frontend: u16, stats: u16, replicas: &[u16]) -> Self {
        let config = dir.join("haproxy.cfg");
        std::fs::write(&config, haproxy_config(frontend, stats, replicas)).expect("write haproxy.cfg");
        let log = dir.join("haproxy.log");
        let output = std::fs::File::create(&log).expect("haproxy.log");
        let child = Command::new(haproxy_binary())
            .arg("-f")
            .arg(&config)
            .arg("-db")
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("log"))
            .stderr(output)
            .spawn()
            .expect("start haproxy");
        Self {
            child,
            base: format!("http://127.0.0.1:{frontend}"),
            stats: format!("http://127.0.0.1:{stats}/stats;csv"),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One column of HAProxy's statistics for each server of the backend (and `BACKEND`, the
    /// whole backend), or nothing before HAProxy listens.
    async fn stats(&self, client: &reqwest::Client, column: &str) -> Option<BTreeMap<String, String>> {
        let csv = client.get(&self.stats).send().await.ok()?.text().await.ok()?;
        let header: Vec<&str> = csv.lines().next()?.trim_start_matches("# ").split(',').collect();
        let position = |name: &str| header.iter().position(|h| *h == name);
        let (proxy, server, wanted) = (position("pxname")?, position("svname")?, position(column)?);
        let values = csv
            .lines()
            .skip(1)
            .map(|line| line.split(',').collect::<Vec<_>>())
            .filter(|fields| fields.get(proxy) == Some(&"replicas") && fields.len() > wanted)
            .map(|fields| (fields[server].to_owned(), fields[wanted].to_owned()))
            .collect();
        Some(values)
    }

    /// Each replica's state as HAProxy sees it (`UP`, `DOWN`, ...).
    async fn states(&self, client: &reqwest::Client) -> Option<BTreeMap<String, String>> {
        self.stats(client, "status").await
    }

    /// How many times HAProxy retried and redispatched a request to the backend so far.
    async fn retries(&self, client: &reqwest::Client) -> (u64, u64) {
        let count = |values: Option<BTreeMap<String, String>>| {
            values.and_then(|v| v.get("BACKEND").and_then(|n| n.parse().ok())).unwrap_or(0)
        };
        (count(self.stats(client, "wretr").await), count(self.stats(client, "wredis").await))
    }

    /// Waits up to `within` for HAProxy to show `replica` as `state`; returns when it did.
    async fn wait_for(&self, client: &reqwest::Client, replica: &str, state: &str, within: Duration) -> Instant {
        let deadline = Instant::now() + within;
        loop {
            let states = self.states(client).await;
            if states.as_ref().and_then(|s| s.get(replica)).is_some_and(|s| s == state) {
                return Instant::now();
            }
            assert!(
                Instant::now() < deadline,
                "HAProxy did not show {replica} {state} within {within:?}: {states:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The settings of replica `port`: everything shared but the port.
fn replica_env(port: u16, endpoint: &str, bucket: &str) -> Vec<(String, String)> {
    [
        ("DEPOT_SERVER__LISTEN", format!("127.0.0.1:{port}")),
        ("DEPOT_GRPC__LISTEN", "127.0.0.1:0".to_owned()),
        ("DEPOT_SERVER__DRAIN_GRACE_S", DRAIN_GRACE.as_secs().to_string()),
        ("DEPOT_SERVER__SHUTDOWN_TIMEOUT_S", "5".to_owned()),
        ("DEPOT_STORAGE__URL", format!("s3://{bucket}/depot")),
        ("DEPOT_STORAGE__OPTIONS__ENDPOINT", endpoint.to_owned()),
        ("DEPOT_STORAGE__OPTIONS__REGION", "us-east-1".to_owned()),
        ("DEPOT_STORAGE__OPTIONS__ACCESS_KEY_ID", "test".to_owned()),
        ("DEPOT_STORAGE__OPTIONS__SECRET_ACCESS_KEY", "test".to_owned()),
        ("DEPOT_STORAGE__OPTIONS__ALLOW_HTTP", "true".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

/// Starts a replica without blocking the load tasks' executor (start waits for it to listen).
async fn launch(database_url: &str, dir: &Path, env: Vec<(String, String)>) -> Server {
    let (database_url, dir) = (database_url.to_owned(), dir.to_owned());
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        start(&database_url, &dir, &env, false)
    })
    .await
    .expect("start a replica")
}

/// Waits for a replica told to stop to exit; its exit status.
async fn exited(mut server: Server) -> Option<std::process::ExitStatus> {
    tokio::task::spawn_blocking(move || server.wait_exit(Duration::from_secs(15))).await.expect("wait")
}

/// One prediction through `url`: which replica answered and the version it named.
async fn predict(client: &reqwest::Client, url: &str) -> Result<(Option<String>, u64), (Option<String>, String)> {
    let response = match client.post(url).json(&json!({"inputs": {"X": ROW}})).send().await {
        Ok(response) => response,
        Err(e) => return Err((None, format!("transport: {e}"))),
    };
    let status = response.status();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (replica, served_by) = (header("depot-lb-server"), header("depot-served-by"));
    let body = match response.text().await {
        Ok(body) => body,
        Err(e) => return Err((replica, format!("{status}, body: {e}"))),
    };
    if status != 200 {
        return Err((replica, format!("{status}: {body}")));
    }
    let version = serde_json::from_str::<Value>(&body).ok().and_then(|v| v["version"].as_u64());
    match version {
        Some(version) if served_by == Some(format!("iris/{version}")) => Ok((replica, version)),
        _ => Err((replica, format!("200 with depot-served-by {served_by:?} and body {body}"))),
    }
}

/// Constant load: `TASKS` tasks looping predictions through `url` until `stop`.
fn load(
    client: &reqwest::Client,
    url: &str,
    stop: &Arc<AtomicBool>,
    samples: &Arc<Mutex<Vec<Sample>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..TASKS)
        .map(|_| {
            let (client, url, stop, samples) = (client.clone(), url.to_owned(), Arc::clone(stop), Arc::clone(samples));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let result = predict(&client, &url).await;
                    let ended = Instant::now();
                    let sample = match result {
                        Ok((replica, version)) => {
                            Sample { started, ended, replica, version: Some(version), failure: None }
                        }
                        Err((replica, failure)) => {
                            Sample { started, ended, replica, version: None, failure: Some(failure) }
                        }
                    };
                    samples.lock().expect("samples").push(sample);
                }
            })
        })
        .collect()
}

fn snapshot(samples: &Arc<Mutex<Vec<Sample>>>) -> Vec<Sample> {
    samples.lock().expect("samples").clone()
}

/// A deployment change: when it was sent and answered, and the versions before and after.
#[derive(Debug)]
struct Change {
    sent: Instant,
    answered: Instant,
    old: u64,
    new: u64,
}

/// How long after `change` was answered each of `replicas` served only its new version: the
/// end of the first new answer after the last old one (an upper bound), over the `window`.
fn propagation(change: &Change, window: &[&Sample], replicas: &[&str]) -> Vec<Duration> {
    replicas
        .iter()
        .map(|replica| {
            let mut answers: Vec<&&Sample> =
                window.iter().filter(|s| s.from(replica) && s.started >= change.answered).collect();
            answers.sort_by_key(|s| s.started);
            let last_old = answers.iter().rposition(|s| s.version == Some(change.old));
            let first_new = answers[last_old.map_or(0, |i| i + 1)..].first();
            let first_new = first_new.unwrap_or_else(|| panic!("{replica} served no new answer after {change:?}"));
            assert_eq!(first_new.version, Some(change.new), "{replica} after {change:?}: {first_new:?}");
            first_new.ended.saturating_duration_since(change.answered)
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn describe(name: &str, samples: &[&Sample]) -> String {
    let mut latencies: Vec<Duration> = samples.iter().map(|s| s.ended - s.started).collect();
    latencies.sort();
    let failures = samples.iter().filter(|s| s.failure.is_some()).count();
    format!(
        "{name:<16} {:>6} requests {failures:>3} failed  p50 {:>6.2} ms  p99 {:>6.2} ms",
        samples.len(),
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_behind_haproxy_survive_a_rolling_restart_deploys_a_cold_join_and_a_kill() {
    let endpoint = s3_endpoint();
    haproxy_binary();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let bucket = format!("depot-scale-{}", uuid::Uuid::new_v4().simple());
    let created = http.put(format!("{endpoint}/{bucket}")).send().await.expect("create the bucket");
    assert!(created.status().is_success(), "create bucket {bucket}: {}", created.status());

    // One database, one bucket; the admin token file (shared by every replica) and HAProxy's
    // configuration in one directory.
    let database_url = database_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let env = |i: usize| replica_env(ports[i], &endpoint, &bucket);
    // The first replica creates and migrates the database alone; then the others.
    let mut replicas: Vec<Option<Server>> = vec![Some(launch(&database_url, dir.path(), env(0)).await)];
    for i in 1..3 {
        replicas.push(Some(launch(&database_url, dir.path(), env(i)).await));
    }
    let first = replicas[0].as_ref().expect("r1");
    let (admin, direct) = (first.admin_client(), first.base.clone());
    let token = first.admin_token();

    // iris: versions 1 (logistic regression), 2 (random forest), 3 (the regression again).
    let created = admin.post(format!("{direct}/v1/models")).json(&json!({"name": "iris"})).send().await;
    assert_eq!(created.expect("create").status(), 201);
    for file in ["sklearn_logreg.onnx", "sklearn_forest.onnx", "sklearn_logreg.onnx"] {
        let bytes = std::fs::read(repo().join("tests/fixtures").join(file)).expect("fixture");
        let form = reqwest::multipart::Form::new().part("artifact", reqwest::multipart::Part::bytes(bytes));
        let uploaded = admin.post(format!("{direct}/v1/models/iris/versions")).multipart(form).send().await;
        assert_eq!(uploaded.expect("upload").status(), 201, "upload {file}");
    }
    let deployed = admin.put(format!("{direct}/v1/models/iris/deployment")).json(&json!({"version": 1})).send().await;
    assert_eq!(deployed.expect("deploy").status(), 200);
    for server in replicas.iter().flatten() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = format!("{}/v1/models/iris/predict", server.base);
        while predict(&admin, &url).await.map(|(_, v)| v).ok() != Some(1) {
            assert!(Instant::now() < deadline, "{} serves version 1", server.base);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    let (frontend, stats) = (free_port(), free_port());
    let haproxy = Haproxy::start(dir.path(), frontend, stats, &ports);
    for replica in &REPLICAS[..3] {
        haproxy.wait_for(&http, replica, "UP", Duration::from_secs(10)).await;
    }
    // The fourth is configured but not started: down, so it gets no traffic.
    haproxy.wait_for(&http, REPLICAS[3], "DOWN", Duration::from_secs(5)).await;

    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header"));
    let client =
        reqwest::Client::builder().default_headers(headers).timeout(Duration::from_secs(10)).build().expect("client");
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let tasks = load(&client, &format!("{}/v1/models/iris/predict", haproxy.base), &stop, &samples);
    let mut phases = vec![("steady", Instant::now())];
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 1. Rolling restart: SIGTERM, HAProxy takes the replica out while it drains, it exits;
    // the same replica starts again on its port and HAProxy puts it back; then the next.
    phases.push(("rolling restart", Instant::now()));
    let mut removals = Vec::new();
    let mut returns = Vec::new();
    for (i, replica) in REPLICAS[..3].iter().enumerate() {
        let server = replicas[i].take().expect("running");
        server.terminate();
        let signalled = Instant::now();
        let removed = haproxy.wait_for(&http, replica, "DOWN", DRAIN_GRACE).await;
        removals.push(removed - signalled);
        let status = exited(server).await.expect("exits after its drain");
        assert!(status.success(), "{replica} exits 0 after SIGTERM: {status}");
        let restarted = Instant::now();
        replicas[i] = Some(launch(&database_url, dir.path(), env(i)).await);
        returns.push(haproxy.wait_for(&http, replica, "UP", Duration::from_secs(20)).await - restarted);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 2. Deploys and a rollback, through the first replica directly.
    phases.push(("deploy/rollback", Instant::now()));
    let mut changes = Vec::new();
    for (old, new) in [(1, 2), (2, 3), (3, 2)] {
        let sent = Instant::now();
        let response = if changes.len() == 2 {
            admin.post(format!("{direct}/v1/models/iris/deployment/rollback")).json(&json!({})).send().await
        } else {
            admin.put(format!("{direct}/v1/models/iris/deployment")).json(&json!({"version": new})).send().await
        };
        let response = response.expect("deployment change");
        assert_eq!(response.status(), 200);
        let answered = Instant::now();
        let body: Value = response.json().await.expect("deployment");
        assert_eq!(body["version"], new, "{body}");
        changes.push(Change { sent, answered, old, new });
        tokio::time::sleep(PROPAGATION_BOUND + Duration::from_millis(500)).await;
    }

    // 3. A fourth replica, started cold, joins once its health check passes.
    phases.push(("cold join", Instant::now()));
    let joining = Instant::now();
    replicas.push(Some(launch(&database_url, dir.path(), env(3)).await));
    let joined = haproxy.wait_for(&http, REPLICAS[3], "UP", Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 4. SIGKILL one: what it had in flight may fail until HAProxy marks it down; then nothing.
    phases.push(("sigkill", Instant::now()));
    let retried_before = haproxy.retries(&http).await;
    let mut victim = replicas[1].take().expect("running");
    let killed = Instant::now();
    victim.kill();
    let marked_down = haproxy.wait_for(&http, REPLICAS[1], "DOWN", Duration::from_secs(2)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let end = Instant::now();
    let retried_after = haproxy.retries(&http).await;

    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("load task");
    }
    let samples = snapshot(&samples);

    // The report, then the assertions.
    let in_phase = |from: Instant, to: Instant| -> Vec<&Sample> {
        samples.iter().filter(|s| s.ended >= from && s.ended < to).collect()
    };
    let bounds: Vec<Instant> = phases.iter().map(|(_, at)| *at).chain([end]).collect();
    for (i, (name, _)) in phases.iter().enumerate() {
        eprintln!("{}", describe(name, &in_phase(bounds[i], bounds[i + 1])));
    }
    let delays: Vec<Vec<Duration>> = changes
        .iter()
        .enumerate()
        .map(|(i, change)| {
            let until = changes.get(i + 1).map_or(phases[3].1, |next| next.sent);
            propagation(change, &in_phase(change.sent, until), &REPLICAS[..3])
        })
        .collect();
    let kill_failures: Vec<&Sample> =
        samples.iter().filter(|s| s.failure.is_some() && s.ended >= killed && s.ended < end).collect();
    eprintln!("SIGTERM -> HAProxy DOWN: {removals:?}; restart -> UP: {returns:?}");
    eprintln!("deploy/rollback -> served by all three (upper bound per replica): {delays:?}");
    eprintln!("cold start -> UP: {:?}", joined - joining);
    eprintln!(
        "SIGKILL -> HAProxy DOWN: {:?}; requests HAProxy retried {} and redispatched {}; failed: {} (of at most {TASKS} in flight): {:?}",
        marked_down - killed,
        retried_after.0 - retried_before.0,
        retried_after.1 - retried_before.1,
        kill_failures.len(),
        kill_failures.iter().map(|s| s.failure.as_deref().unwrap_or_default()).collect::<Vec<_>>()
    );

    // No failure anywhere but around the kill.
    let failures: Vec<&Sample> = samples.iter().filter(|s| s.failure.is_some() && s.ended < killed).collect();
    assert!(
        failures.is_empty(),
        "{} requests failed before the kill: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    // Every phase had traffic, and every running replica served some of it.
    for (i, (name, _)) in phases.iter().enumerate() {
        assert!(in_phase(bounds[i], bounds[i + 1]).len() > 20, "the load ran during {name}");
    }
    for change in &changes {
        let until = changes.iter().find(|c| c.sent > change.sent).map_or(phases[3].1, |next| next.sent);
        // A request that ended after the change was sent and before the next one names the old
        // or the new version, never another.
        for sample in in_phase(change.sent, until) {
            assert!(
                sample.version == Some(change.old) || sample.version == Some(change.new),
                "during {change:?}: {sample:?}"
            );
        }
    }
    for (change, delays) in changes.iter().zip(&delays) {
        for (replica, delay) in REPLICAS.iter().zip(delays) {
            assert!(*delay < PROPAGATION_BOUND, "{replica} served version {} only after {delay:?}", change.new);
        }
    }
    // The cold replica got nothing before it was up, then served the deployed version.
    let from_fourth: Vec<&Sample> = samples.iter().filter(|s| s.from(REPLICAS[3])).collect();
    assert!(from_fourth.iter().all(|s| s.started >= joining), "r4 answered before it started");
    assert!(from_fourth.len() > 5, "r4 served after joining: {} answers", from_fourth.len());
    assert!(from_fourth.iter().all(|s| s.version == Some(2)), "r4 serves the deployed version 2");
    // The kill: at most what was in flight, and nothing once HAProxy had the replica out.
    assert!(kill_failures.len() <= TASKS, "{} failures after SIGKILL: {kill_failures:?}", kill_failures.len());
    let late: Vec<&&Sample> = kill_failures.iter().filter(|s| s.started >= marked_down).collect();
    assert!(late.is_empty(), "failures after HAProxy marked the killed replica down: {late:?}");
    let after_down = samples.iter().filter(|s| s.started >= marked_down && s.ended < end).count();
    assert!(after_down > 20, "the load ran after the kill: {after_down}");
}
