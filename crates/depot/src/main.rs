//! The `depot` binary: the server, its administrative commands, and the client commands people
//! and CI use against a server (`depot login`, `push`, `deploy`, ...; see [`client`]).
//!
//! Thin by design: it reads configuration, sets up logging and calls into `depot-api`; the
//! client commands speak to a server over its REST API.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use depot_api::{Application, Settings};
use figment::Figment;
use figment::providers::{Env, Format, Toml};

mod client;
mod telemetry;

/// Depot: model registry and deployment server, and its command line.
///
/// Exit codes of the client commands: 0 done, 1 refused (4xx), 2 usage, 3 not found, 4
/// conflict, 5 authentication or permission, 6 server error or unreachable.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML). Defaults to ./depot.toml when it exists. Environment variables
    /// `DEPOT_<SECTION>__<KEY>` (such as DEPOT_DATABASE__URL) override it.
    #[arg(long, short, env = "DEPOT_CONFIG", global = true)]
    config: Option<PathBuf>,

    /// Log format: `text` for people, `json` for log collectors. The level comes from RUST_LOG
    /// (default `info`).
    #[arg(long, env = "DEPOT_LOG_FORMAT", default_value = "text", global = true)]
    log_format: telemetry::LogFormat,

    #[command(flatten)]
    client: client::ClientOptions,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (creating and migrating the database when configured to).
    Serve,
    /// Create the database if missing and apply pending migrations, then exit.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Create an admin token (the admin role on every model) directly in the database and print
    /// it: for an operator locked out of the API. Recorded in the audit log as made by depot-cli.
    AdminToken {
        /// The principal the token acts as.
        #[arg(long, default_value = "admin")]
        principal: String,
        /// The token's name (unique among the principal's live tokens).
        #[arg(long, default_value = "recovery")]
        name: String,
    },
    /// Remove from the artifact store what no version references (blobs left by a deletion that
    /// crashed) and uploads that never finished (staging objects idle for
    /// --staging-older-than). Safe while servers run: one sweeper at a time, and a blob is only
    /// removed under its digest lock.
    Gc {
        /// Report what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Seconds since a staging object was last written before it counts as abandoned
        /// (default: gc.staging_max_age_s, 3600).
        #[arg(long, value_name = "SECONDS")]
        staging_older_than: Option<u64>,
    },
    /// Print the OpenAPI document, or write it to a file.
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long = "file", short = 'f', alias = "output-file")]
        file: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    #[command(flatten)]
    Client(client::ClientCommand),
}

fn load_settings(path: Option<&PathBuf>) -> anyhow::Result<Settings> {
    let mut figment = Figment::new();
    match path {
        Some(path) => {
            anyhow::ensure!(path.exists(), "configuration file {} does not exist", path.display());
            figment = figment.merge(Toml::file(path));
        }
        None => figment = figment.merge(Toml::file("depot.toml")),
    }
    let env = Env::prefixed("DEPOT_").split("__").filter(|key| is_setting(key.as_str()));
    for (name, _) in std::env::vars() {
        let Some(key) = name.strip_prefix("DEPOT_") else { continue };
        let key = key.to_ascii_lowercase();
        // The command line's own (DEPOT_URL, DEPOT_TOKEN, ...) and the test tooling's.
        let tooling = matches!(
            key.as_str(),
            "config" | "log_format" | "ort_library" | "url" | "token" | "profile" | "config_dir" | "bin"
        ) || key.starts_with("test_")
            || key.starts_with("bench_");
        if !is_setting(&key) && !tooling {
            tracing::warn!(variable = %name, "ignoring an environment variable that names no setting (DEPOT_<SECTION>__<KEY>)");
        }
    }
    figment.merge(env).extract().context("reading configuration")
}

/// For the commands that do not start a server (`Application::build` validates its settings).
fn validated(settings: Settings) -> anyhow::Result<Settings> {
    if let Err(problems) = settings.validate() {
        anyhow::bail!("invalid configuration:\n  {}", problems.join("\n  "));
    }
    Ok(settings)
}

/// Whether an environment key (after `DEPOT_`) belongs to the settings tree. Other
/// `DEPOT_*` variables (the CLI's own, the test tooling's) are not settings.
fn is_setting(key: &str) -> bool {
    // figment hands the filter keys already split (`runtime.library_path`); the warning loop
    // passes raw ones (`runtime__library_path`).
    let key = key.to_ascii_lowercase();
    let Some((section, rest)) = key.split_once("__").or_else(|| key.split_once('.')) else { return false };
    !rest.is_empty()
        && matches!(
            section,
            "server"
                | "database"
                | "storage"
                | "limits"
                | "runtime"
                | "serving"
                | "auth"
                | "metrics"
                | "gc"
                | "console"
                | "grpc"
        )
}

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Client(command) => return Ok(client::run(command, cli.client).await),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "depot", &mut std::io::stdout());
            return Ok(std::process::ExitCode::SUCCESS);
        }
        _ => {}
    }
    let _telemetry = telemetry::init(cli.log_format)?;
    match cli.command {
        Command::Serve => {
            let settings = load_settings(cli.config.as_ref())?;
            tracing::info!(config = ?settings, "starting");
            let app = Application::build(settings).await?;
            let address = app.address();
            tracing::info!(address = %address, grpc = ?app.grpc_address(), "listening");
            match app.grpc_address() {
                Some(grpc) => println!(
                    "Depot listening on http://{address} (API docs: http://{address}/docs/) \
                     and, for the Open Inference Protocol over gRPC, on grpc://{grpc}"
                ),
                None => println!("Depot listening on http://{address} (API docs: http://{address}/docs/)"),
            }
            if let Some(path) = app.bootstrap_token() {
                eprintln!("First start: an admin API token was written to {} (readable by you only)", path.display());
            }
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let settings = validated(load_settings(cli.config.as_ref())?)?;
            depot_api::migrate(&settings.database).await?;
            println!("database is up to date");
        }
        Command::AdminToken { principal, name } => {
            let settings = validated(load_settings(cli.config.as_ref())?)?;
            let token = depot_api::create_admin_token(&settings, &principal, &name).await?;
            println!("{token}");
        }
        Command::Gc { dry_run, staging_older_than } => {
            let settings = validated(load_settings(cli.config.as_ref())?)?;
            let age = staging_older_than.unwrap_or(settings.gc.staging_max_age_s);
            let options = depot_api::SweepOptions { dry_run, staging_older_than: std::time::Duration::from_secs(age) };
            let Some(report) = depot_api::collect_garbage(&settings, options).await? else {
                eprintln!("a replica is sweeping the store now; try again in a moment");
                return Ok(std::process::ExitCode::from(4));
            };
            let verb = if report.dry_run { "would remove" } else { "removed" };
            for (digest, size) in &report.orphan_blobs {
                println!("{verb} orphan blob {} ({size} bytes)", digest.hex());
            }
            for (key, size) in &report.stale_staging {
                println!("{verb} abandoned upload {key} ({size} bytes)");
            }
            println!(
                "{verb} {} orphan blobs and {} abandoned uploads, {} bytes",
                report.orphan_blobs.len(),
                report.stale_staging.len(),
                report.bytes()
            );
        }
        Command::Config => {
            let settings = validated(load_settings(cli.config.as_ref())?)?;
            println!("{settings:#?}");
        }
        Command::Openapi { file } => {
            let document = depot_api::openapi::document();
            match file {
                Some(path) => std::fs::write(&path, document).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{document}"),
            }
        }
        Command::Completions { .. } | Command::Client(_) => unreachable!("handled above"),
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::is_setting;

    #[test]
    fn only_settings_sections_are_read_from_the_environment() {
        for key in [
            "RUNTIME.LIBRARY_PATH",
            "runtime__library_path",
            "database.url",
            "STORAGE.OPTIONS.ALLOW_HTTP",
            "GC__INTERVAL_S",
            "console__prometheus_url",
            "GRPC__LISTEN",
        ] {
            assert!(is_setting(key), "{key}");
        }
        for key in ["ORT_LIBRARY", "TEST_S3_ENDPOINT", "config", "LOG_FORMAT", "runtime", "servr__listen"] {
            assert!(!is_setting(key), "{key}");
        }
    }
}
