//! The `depot` command line against a real `depot serve`: every subcommand's table and JSON
//! output, exit codes by kind of failure, a profile written by `login` readable by its owner
//! only, a push's progress shown on a terminal and not on a pipe, a pull that checks the digest.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Server, database_url, repo, start};
use serde_json::Value;

struct Cli<'a> {
    server: &'a Server,
    config: &'a Path,
    token: Option<String>,
}

impl Cli<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_depot"));
        command.args(args).env("DEPOT_CONFIG_DIR", self.config).env_remove("DEPOT_TOKEN").env_remove("DEPOT_URL");
        command.env("DEPOT_URL", &self.server.base);
        if let Some(token) = &self.token {
            command.env("DEPOT_TOKEN", token);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run depot")
    }

    /// Runs and expects success; standard output.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "depot {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("utf-8")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&all)).expect("JSON output")
    }

    /// Runs and expects failure with `code`; the error line.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(code), "depot {args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        stderr
    }
}

fn fixture(name: &str) -> String {
    repo().join("tests/fixtures").join(name).display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subcommand_against_a_real_server() {
    let storage = tempfile::tempdir().expect("tempdir");
    let config = tempfile::tempdir().expect("tempdir");
    let server = start(&database_url(), storage.path(), &[], false);
    let admin_token = server.admin_token();
    let cli = Cli { server: &server, config: config.path(), token: None };

    // login checks the token, then stores it readable by its owner only.
    let token_file = storage.path().join("admin-token");
    let login = cli.ok(&["login", "--server", &server.base, "--token-file", &token_file.display().to_string()]);
    assert!(login.contains("as admin"), "{login}");
    let credentials = config.path().join("credentials.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&credentials).expect("credentials").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A file others can read is refused.
        std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let refused = cli.fails(&["models", "list"], 2);
        assert!(refused.contains("chmod 600"), "{refused}");
        std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    assert!(std::fs::read_to_string(&credentials).expect("read").contains(&admin_token));

    // Models: tables for people, the server's JSON for scripts.
    cli.ok(&["models", "create", "iris", "--description", "iris classifier", "--tag", "demo"]);
    let table = cli.ok(&["models", "list"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(header, ["NAME", "VERSIONS", "LATEST", "TAGS", "UPDATED", "DESCRIPTION"]);
    assert!(lines.next().expect("row").starts_with("iris "), "{table}");
    assert_eq!(cli.json(&["models", "list"])["models"][0]["name"], "iris");
    assert_eq!(cli.json(&["models", "show", "iris"])["tags"][0], "demo");

    // Push to a pipe: the result on stdout, no progress bar on stderr.
    let output = cli.run(&[
        "push",
        &fixture("sklearn_logreg.onnx"),
        "--model",
        "iris",
        "--metric",
        "accuracy=0.95",
        "--param",
        "C=1.0",
        "--run",
        "run-7",
        "--commit",
        "abc123",
        "--tag",
        "baseline",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("as iris version 1"));
    assert!(output.stderr.is_empty(), "nothing on a piped stderr: {}", String::from_utf8_lossy(&output.stderr));
    let pushed = cli.json(&["push", &fixture("sklearn_forest.onnx"), "--model", "iris"]);
    assert_eq!(pushed["version"], 2);
    let v1 = cli.json(&["versions", "show", "iris", "1"]);
    assert_eq!(v1["metadata"]["metrics"]["accuracy"], 0.95);
    assert_eq!(v1["metadata"]["parameters"]["C"], 1.0);
    assert_eq!(v1["metadata"]["lineage"]["source_run"], "run-7");
    assert_eq!(v1["tags"][0], "baseline");
    assert!(cli.ok(&["versions", "show", "iris", "1"]).contains("input X: FP32 [-1,4]"));
    assert_eq!(cli.json(&["versions", "list", "iris"])["versions"].as_array().map(Vec::len), Some(2));
    // --create registers the model first.
    assert_eq!(cli.json(&["push", &fixture("tiny.onnx"), "--model", "tiny", "--create"])["version"], 1);

    // Pull checks the digest and keeps the file only when it matches.
    let pulled = storage.path().join("pulled.onnx");
    cli.ok(&["versions", "pull", "iris", "1", "-O", &pulled.display().to_string()]);
    assert_eq!(
        std::fs::read(&pulled).expect("pulled"),
        std::fs::read(fixture("sklearn_logreg.onnx")).expect("fixture")
    );

    // Deployments, aliases, history, predictions.
    assert!(cli.ok(&["deploy", "iris", "1", "--reason", "launch"]).contains("version 1 deployed"));
    cli.ok(&["deploy", "iris", "2"]);
    assert_eq!(cli.json(&["rollback", "iris"])["version"], 1);
    let history = cli.json(&["history", "iris"]);
    let actions: Vec<&str> =
        history["entries"].as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["deployment.rollback", "deployment.deploy", "deployment.deploy"]);
    assert!(cli.ok(&["history", "iris"]).lines().next().expect("header").contains("ACTION"));
    cli.ok(&["alias", "set", "iris", "champion", "2"]);
    assert_eq!(cli.json(&["alias", "list", "iris"])["aliases"][0]["version"], 2);
    let input = storage.path().join("input.json");
    std::fs::write(&input, r#"{"X": [[5.1, 3.5, 1.4, 0.2]]}"#).expect("input");
    let input = input.display().to_string();
    for reference in ["iris", "iris@champion", "iris:2"] {
        let answer = cli.json(&["predict", reference, "--input", &input]);
        assert_eq!(answer["outputs"]["label"]["data"][0], 0, "{reference}: {answer}");
    }
    assert_eq!(cli.json(&["predict", "iris@champion", "--input", &input])["version"], 2);
    cli.ok(&["canary", "set", "iris", "2", "--percent", "10"]);
    assert_eq!(cli.json(&["canary", "abort", "iris"])["canary"], Value::Null);
    cli.ok(&["alias", "rm", "iris", "champion"]);

    // Tokens.
    let created = cli.json(&[
        "tokens",
        "create",
        "--name",
        "ci",
        "--principal",
        "bob",
        "--grant",
        "deployer:iris",
        "--expires-in",
        "30d",
    ]);
    let bob_token = created["token"].as_str().expect("token").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(cli.ok(&["tokens", "list"]).contains(&id));
    let bob = Cli { server: &server, config: config.path(), token: Some(bob_token.clone()) };
    assert_eq!(bob.json(&["whoami"])["principal"], "bob");

    // A protected deployment: a change waits for another principal.
    let protect = reqwest::Client::new()
        .put(format!("{}/v1/models/iris/protection", server.base))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"deployment": true, "require_approval": true}))
        .send()
        .await
        .expect("protect");
    assert_eq!(protect.status(), 200);
    let proposed = bob.ok(&["deploy", "iris", "2"]);
    assert!(proposed.contains("pending approval"), "{proposed}");
    let pending = cli.json(&["approvals", "list"]);
    let change = pending["changes"][0]["id"].as_i64().expect("a pending change");
    assert!(cli.ok(&["approvals", "list"]).contains("deploy"));
    bob.fails(&["approvals", "approve", &change.to_string()], 5);
    assert!(cli.ok(&["approvals", "approve", &change.to_string()]).contains("approved"));
    assert_eq!(cli.json(&["models", "show", "iris"])["name"], "iris");

    // Exit codes by kind, one error line with the server's code.
    assert!(cli.fails(&["models", "show", "nope"], 3).contains("model_not_found"));
    assert!(cli.fails(&["models", "create", "iris"], 4).contains("model_exists"));
    assert!(bob.fails(&["models", "delete", "iris", "--cascade"], 5).contains("forbidden"));
    cli.ok(&["tokens", "revoke", &id]);
    assert!(bob.fails(&["whoami"], 5).contains("unauthenticated"));
    assert!(cli.fails(&["models", "create", "Not A Name"], 1).contains("invalid_model_name"));
    assert!(cli.fails(&["push", "/no/such/file", "--model", "iris"], 2).contains("cannot open"));
    let nowhere = cli.command(&["models", "list", "--url", "http://127.0.0.1:9"]).output().expect("run");
    assert_eq!(nowhere.status.code(), Some(6), "{}", String::from_utf8_lossy(&nowhere.stderr));
    // A usage error is clap's own exit code 2.
    assert_eq!(cli.run(&["deploy", "iris"]).status.code(), Some(2));
    assert!(cli.ok(&["completions", "bash"]).contains("depot"));
    cli.ok(&["models", "delete", "tiny", "--cascade"]);
    assert!(cli.fails(&["models", "show", "tiny"], 3).contains("model_not_found"));
}

/// On a terminal (a pseudo-terminal made by util-linux `script`) a push draws its progress bar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_shows_progress_on_a_terminal() {
    let storage = tempfile::tempdir().expect("tempdir");
    let config = tempfile::tempdir().expect("tempdir");
    let server = start(&database_url(), storage.path(), &[], false);
    let cli = Cli { server: &server, config: config.path(), token: Some(server.admin_token()) };
    cli.ok(&["models", "create", "big"]);
    // A pickle is stored (never unpickled): 16 MiB of it, so there is something to show.
    let mut bytes = std::fs::read(fixture("model.pkl")).expect("fixture");
    bytes.resize(16 << 20, 0);
    let file = storage.path().join("big.pkl");
    std::fs::write(&file, &bytes).expect("write");
    let command = format!("{} push {} --model big", env!("CARGO_BIN_EXE_depot"), file.display());
    let output = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("DEPOT_URL", &server.base)
        .env("DEPOT_TOKEN", server.admin_token())
        .env("DEPOT_CONFIG_DIR", config.path())
        .output()
        .expect("run script (util-linux)");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("big.pkl") && shown.contains("16.00 MiB") && shown.contains("ETA"),
        "no progress bar: {shown:?}"
    );
    assert!(shown.contains("as big version 1"), "{shown}");
}
