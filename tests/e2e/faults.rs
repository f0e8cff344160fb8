//! Faults of real components and of clients: the S3 server going away mid-upload, and clients
//! that send their requests too slowly.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use depot_tests::{Backend, TestApp, assert_error, fixture_bytes, s3_config, test_settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A moto S3 server of the test's own, on a fixed port so that it can be started again there.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start(port: u16) -> Self {
        let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
        let binary = if binary.exists() { binary } else { PathBuf::from("moto_server") };
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (scripts/setup-python.sh installs it into .venv)");
        Self { child, port }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until it answers, then creates `bucket`.
    async fn ready_with(&self, bucket: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = reqwest::Client::new().put(format!("{}/{bucket}", self.endpoint())).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "moto did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn the_s3_server_stopping_mid_upload_gives_503_and_a_version_once_it_is_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let mut moto = Moto::start(port);
    moto.ready_with("faults").await;
    let (mut settings, dir) = test_settings(Backend::Local).await.expect("settings");
    settings.storage = s3_config(&moto.endpoint(), "faults");
    settings.storage.options.insert("connect_timeout".into(), "1s".into());
    let app = TestApp::start(settings, dir).await.expect("starts");
    app.create_model("m").await;

    // An upload whose body comes slowly: the store goes away after its first 12 MB.
    let (mut writer, reader) = tokio::io::duplex(1 << 20);
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(reader));
    let form = reqwest::multipart::Form::new().part("artifact", reqwest::multipart::Part::stream(body));
    let upload = tokio::spawn(app.client.post(app.url("/v1/models/m/versions")).multipart(form).send());
    let mut chunk = fixture_bytes("model.pkl");
    chunk.resize(1 << 20, 0);
    for _ in 0..12 {
        writer.write_all(&chunk).await.expect("send");
        chunk[..8].fill(0);
    }
    moto.stop();
    let started = Instant::now();
    // The rest of the body: the server's next parts fail to reach the store.
    let feeding = tokio::spawn(async move {
        for _ in 0..52 {
            if writer.write_all(&[0u8; 1 << 20]).await.is_err() {
                break;
            }
        }
    });
    let response = upload.await.expect("task").expect("an answer, not a dropped connection");
    feeding.abort();
    let body = assert_error(response, 503, "unavailable").await;
    assert!(body["message"].as_str().is_some_and(|m| m.contains("storage")), "{body}");
    assert!(started.elapsed() < Duration::from_secs(20), "refused in {:?}", started.elapsed());
    assert_eq!(app.version_rows().await, 0, "no version row");

    // The store comes back (moto starts empty): the next upload works, and nothing else is there.
    let moto = Moto::start(port);
    moto.ready_with("faults").await;
    let uploaded = app.upload("m", fixture_bytes("tiny.onnx"), None).await;
    assert_eq!(uploaded.status(), 201);
    assert_eq!(app.version_rows().await, 1);
    assert_eq!(app.blob_count().await, 1);
    assert_eq!(app.staging_count().await, 0);
}

#[tokio::test]
async fn a_slow_client_is_cut_off_after_the_head_timeout_and_holds_no_one_up() {
    let app = TestApp::spawn_with(Backend::Local, |s| {
        s.server.workers = 1;
        s.server.request_head_timeout_ms = 500;
    })
    .await;
    let address = app.base.trim_start_matches("http://").to_owned();
    // Fifty clients that send their request line and then a header byte every 100 ms.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut socket = tokio::net::TcpStream::connect(&address).await.expect("connect");
        socket.write_all(b"GET /v1/models HTTP/1.1\r\nHost: depot\r\n").await.expect("request line");
        slow.push(tokio::spawn(async move {
            let opened = Instant::now();
            let mut answer = Vec::new();
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if socket.write_all(b"x").await.is_err() {
                    break;
                }
                let mut buffer = [0u8; 256];
                match tokio::time::timeout(Duration::from_millis(1), socket.read(&mut buffer)).await {
                    Ok(Ok(0) | Err(_)) => break,
                    Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
                    Err(_) => {}
                }
                if opened.elapsed() > Duration::from_secs(10) {
                    break;
                }
            }
            (opened.elapsed(), String::from_utf8_lossy(&answer).into_owned())
        }));
    }
    // Meanwhile the one worker answers everyone else at once.
    for _ in 0..5 {
        let asked = Instant::now();
        let (status, _) = app.get_json("/healthz").await;
        assert_eq!(status, 200);
        assert!(asked.elapsed() < Duration::from_millis(300), "answered in {:?}", asked.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for client in slow {
        let (held, answer) = client.await.expect("slow client");
        assert!(held < Duration::from_secs(3), "a slow client was cut off after {held:?}");
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    }
    let created = app.client.post(app.url("/v1/models")).json(&serde_json::json!({"name": "after"})).send().await;
    assert_eq!(created.expect("create").status(), 201, "the server is unharmed");
}
