//! The command line's client side: `depot login`, `models`, `push`, `versions`, `alias`,
//! `deploy`, `rollback`, `canary`, `history`, `approvals`, `tokens`, `predict`, over Depot's
//! REST API with reqwest. Tables for people (`-o table`, the default), JSON for scripts
//! (`-o json`: the server's own JSON). Errors are one line on stderr with the server's code and
//! message; the exit code says what kind of failure it was ([`Exit`]).

mod output;
mod profile;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use output::{Column, print_json, print_table};

/// What a failure was, as the process's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Anything else the server refused (4xx): 1.
    Refused = 1,
    /// The command line itself was wrong: 2 (as clap's own usage errors).
    Usage = 2,
    /// 404: 3.
    NotFound = 3,
    /// 409: 4.
    Conflict = 4,
    /// 401 or 403: 5.
    Auth = 5,
    /// 5xx, or the server could not be reached: 6.
    Server = 6,
}

/// A failure, printed as one line: `error: <code>: <message>`.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub code: String,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self { exit: Exit::Usage, code: "usage".to_owned(), message: message.into() }
    }

    fn unreachable(message: impl Into<String>) -> Self {
        Self { exit: Exit::Server, code: "unreachable".to_owned(), message: message.into() }
    }

    fn from_status(status: u16, body: &[u8]) -> Self {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let code = value["code"].as_str().map(str::to_owned).unwrap_or_else(|| format!("http_{status}"));
        let message = value["message"]
            .as_str()
            .or_else(|| value["error"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
        let exit = match status {
            401 | 403 => Exit::Auth,
            404 => Exit::NotFound,
            409 => Exit::Conflict,
            500.. => Exit::Server,
            _ => Exit::Refused,
        };
        Self { exit, code, message }
    }
}

/// How to print what the server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// The server's JSON, for scripts.
    Json,
}

/// Where the server is and who is asking; each falls back to the environment, then the profile.
#[derive(Debug, Args)]
pub struct ClientOptions {
    /// Profile in the credentials file (see `depot login`).
    #[arg(long, env = "DEPOT_PROFILE", default_value = "default", global = true)]
    pub profile: String,
    /// Server URL, such as http://127.0.0.1:8080.
    #[arg(long, env = "DEPOT_URL", global = true)]
    pub url: Option<String>,
    /// API token (depot_...). Prefer `depot login` or DEPOT_TOKEN to a flag, which other users
    /// of the machine can see.
    #[arg(long, env = "DEPOT_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Output: `table` for people, `json` for scripts.
    #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
    pub output: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Store a server URL and token in a profile (readable by you only), after checking them.
    Login {
        /// The server's URL.
        #[arg(long = "server", value_name = "URL")]
        server: Option<String>,
        /// Read the token from this file instead of standard input ("-").
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
    },
    /// Who the token is and what it may do.
    Whoami,
    /// Registered models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Push a model file as a new version (with a progress bar on a terminal).
    Push(PushArgs),
    /// A model's versions.
    #[command(subcommand)]
    Versions(VersionsCommand),
    /// Named pointers to versions.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Deploy a version: the version-less prediction routes serve it.
    Deploy {
        model: String,
        version: u32,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Roll the deployment back to the version before (or to --to VERSION).
    Rollback {
        model: String,
        #[arg(long)]
        to: Option<u32>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Canary deployments.
    #[command(subcommand)]
    Canary(CanaryCommand),
    /// A model's deployment and alias history (who, when, why).
    History {
        model: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Changes to protected deployments and aliases that wait for approval.
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// API tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Predict with MODEL (deployed), MODEL@ALIAS or MODEL:VERSION; the input is Depot's simple
    /// JSON (`{"inputs": {"x": [[...]]}}`) from a file or - for standard input.
    Predict {
        reference: String,
        #[arg(long, short)]
        input: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List models (those the token may read).
    List {
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        tag: Option<String>,
    },
    /// Register a model.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// One model.
    Show { name: String },
    /// Delete a model (with --cascade, its versions, deployment and aliases too).
    Delete {
        name: String,
        #[arg(long)]
        cascade: bool,
    },
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The model file (ONNX to be served; pickle, joblib and SavedModel are stored only).
    pub file: PathBuf,
    #[arg(long)]
    pub model: String,
    /// Register the model first when it does not exist.
    #[arg(long)]
    pub create: bool,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// A metric, `name=value` (a number); repeatable.
    #[arg(long = "metric", value_name = "K=V")]
    pub metrics: Vec<String>,
    /// A parameter, `name=value` (JSON if it parses, else text); repeatable.
    #[arg(long = "param", value_name = "K=V")]
    pub params: Vec<String>,
    /// The training run that produced it.
    #[arg(long)]
    pub run: Option<String>,
    /// The commit of the training code.
    #[arg(long)]
    pub commit: Option<String>,
    /// The dataset it was trained on.
    #[arg(long)]
    pub dataset: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum VersionsCommand {
    List {
        model: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    Show {
        model: String,
        version: u32,
    },
    /// Download a version's artifact, checking its digest.
    Pull {
        model: String,
        version: u32,
        /// Where to write it (default: the server's file name, in the current directory).
        #[arg(long, short = 'O')]
        output_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Point ALIAS at VERSION.
    Set {
        model: String,
        alias: String,
        version: u32,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove an alias.
    Rm {
        model: String,
        alias: String,
    },
    List {
        model: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CanaryCommand {
    /// Send PERCENT of the version-less traffic to VERSION.
    Set {
        model: String,
        version: u32,
        #[arg(long)]
        percent: u8,
        #[arg(long)]
        reason: Option<String>,
    },
    /// The canary becomes the deployed version.
    Promote { model: String },
    /// All traffic back to the deployed version.
    Abort { model: String },
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    List {
        #[arg(long)]
        model: Option<String>,
        /// pending, approved, rejected or expired.
        #[arg(long, default_value = "pending")]
        state: String,
    },
    Approve {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    Reject {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token; it is printed this once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        principal: String,
        /// A grant, `ROLE:PATTERN` (reader, predictor, pusher, deployer, admin; `*`, `fraud-*`
        /// or a model name); repeatable.
        #[arg(long = "grant", value_name = "ROLE:PATTERN", required = true)]
        grants: Vec<String>,
        /// Expire after this long: 90d, 12h, 30m.
        #[arg(long)]
        expires_in: Option<String>,
    },
    List {
        #[arg(long)]
        principal: Option<String>,
        #[arg(long)]
        include_revoked: bool,
    },
    Revoke {
        id: String,
    },
}

/// A connection to the server.
struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn connect(options: &ClientOptions, need_token: bool) -> Result<Self, CliError> {
        let profile = profile::load(&options.profile)?;
        let base =
            options.url.clone().or(profile.url).ok_or_else(|| {
                CliError::usage("no server: run `depot login --server URL`, or set DEPOT_URL or --url")
            })?;
        let token = options.token.clone().or(profile.token);
        if need_token && token.is_none() {
            return Err(CliError::usage("no token: run `depot login`, or set DEPOT_TOKEN"));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                .map_err(|_| CliError::usage("the token is not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("depot-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::usage(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), client })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Value), CliError> {
        let response = request.send().await.map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| unreachable(&self.base, &e))?;
        if status >= 400 {
            return Err(CliError::from_status(status, &body));
        }
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    async fn get(&self, path: &str) -> Result<Value, CliError> {
        Ok(self.send(self.client.get(self.url(path))).await?.1)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<(u16, Value), CliError> {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }
}

fn unreachable(base: &str, error: &reqwest::Error) -> CliError {
    let mut message = format!("{base}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    CliError::unreachable(message)
}

/// Runs a client command; the process's exit code.
pub async fn run(command: ClientCommand, options: ClientOptions) -> ExitCode {
    match execute(command, &options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}: {}", error.code, error.message);
            ExitCode::from(error.exit as u8)
        }
    }
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

fn reason_body(reason: Option<String>) -> Value {
    match reason {
        Some(reason) => json!({ "reason": reason }),
        None => json!({}),
    }
}

async fn execute(command: ClientCommand, options: &ClientOptions) -> Result<(), CliError> {
    let out = options.output;
    match command {
        ClientCommand::Login { server, token_file } => login(options, server, token_file).await,
        ClientCommand::Whoami => {
            let api = Api::connect(options, true)?;
            let me = api.get("/v1/whoami").await?;
            show(out, &me, || {
                println!("principal: {}", me["principal"].as_str().unwrap_or(""));
                println!("token:     {}", me["token"].as_str().unwrap_or("-"));
                print_table(&me["grants"], &[Column::text("ROLE", "role"), Column::text("MODELS", "models")]);
            });
            Ok(())
        }
        ClientCommand::Models(command) => models(options, command).await,
        ClientCommand::Push(args) => push(options, args).await,
        ClientCommand::Versions(command) => versions(options, command).await,
        ClientCommand::Alias(command) => alias(options, command).await,
        ClientCommand::Deploy { model, version, reason } => {
            let api = Api::connect(options, true)?;
            let mut body = reason_body(reason);
            body["version"] = json!(version);
            let path = format!("/v1/models/{}/deployment", encode(&model));
            let answer = api.call(reqwest::Method::PUT, &path, Some(body)).await?;
            changed(out, answer, |d| format!("{model}: version {} deployed", d["version"]));
            Ok(())
        }
        ClientCommand::Rollback { model, to, reason } => {
            let api = Api::connect(options, true)?;
            let mut body = reason_body(reason);
            if let Some(to) = to {
                body["version"] = json!(to);
            }
            let path = format!("/v1/models/{}/deployment/rollback", encode(&model));
            let answer = api.call(reqwest::Method::POST, &path, Some(body)).await?;
            changed(out, answer, |d| format!("{model}: rolled back to version {}", d["version"]));
            Ok(())
        }
        ClientCommand::Canary(command) => canary(options, command).await,
        ClientCommand::History { model, limit } => {
            let api = Api::connect(options, true)?;
            let page = api.get(&format!("/v1/models/{}/deployment/history?limit={limit}", encode(&model))).await?;
            show(out, &page, || {
                print_table(
                    &page["entries"],
                    &[
                        Column::time("WHEN", "at"),
                        Column::text("ACTION", "action"),
                        Column::text("ALIAS", "alias"),
                        Column::text("FROM", "from"),
                        Column::text("TO", "to"),
                        Column::text("WHO", "actor"),
                        Column::text("WHY", "reason"),
                    ],
                )
            });
            Ok(())
        }
        ClientCommand::Approvals(command) => approvals(options, command).await,
        ClientCommand::Tokens(command) => tokens(options, command).await,
        ClientCommand::Predict { reference, input } => predict(options, &reference, &input).await,
    }
}

/// Prints JSON for scripts, or what `table` prints for people.
fn show(format: OutputFormat, value: &Value, table: impl FnOnce()) {
    match format {
        OutputFormat::Json => print_json(value),
        OutputFormat::Table => table(),
    }
}

/// A change that may have become a pending approval (202).
fn changed(format: OutputFormat, (status, value): (u16, Value), done: impl FnOnce(&Value) -> String) {
    show(format, &value, || {
        if status == 202 {
            println!(
                "change {} is pending approval by another principal (expires {}): depot approvals approve {}",
                value["id"],
                output::relative(&value["expires_at"]),
                value["id"]
            );
        } else {
            println!("{}", done(&value));
        }
    });
}

async fn login(options: &ClientOptions, server: Option<String>, token_file: Option<PathBuf>) -> Result<(), CliError> {
    let existing = profile::load(&options.profile)?;
    let url = server.or(options.url.clone()).or(existing.url).ok_or_else(|| CliError::usage("give --server URL"))?;
    let token = match (token_file, &options.token) {
        (Some(path), _) => read_input(&path.display().to_string())?,
        (None, Some(token)) => token.clone(),
        (None, None) => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprint!("token: ");
            }
            read_input("-")?
        }
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(CliError::usage("no token given"));
    }
    let checking = ClientOptions {
        profile: options.profile.clone(),
        url: Some(url.clone()),
        token: Some(token.clone()),
        output: options.output,
    };
    let me = Api::connect(&checking, true)?.get("/v1/whoami").await?;
    let path = profile::save(&options.profile, profile::Profile { url: Some(url.clone()), token: Some(token) })?;
    show(options.output, &me, || {
        println!(
            "logged in to {url} as {} (profile '{}', saved in {})",
            me["principal"].as_str().unwrap_or("?"),
            options.profile,
            path.display()
        );
    });
    Ok(())
}

fn read_input(source: &str) -> Result<String, CliError> {
    use std::io::Read;
    let mut text = String::new();
    if source == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::usage(format!("reading standard input: {e}")))?;
    } else {
        text = std::fs::read_to_string(source).map_err(|e| CliError::usage(format!("reading {source}: {e}")))?;
    }
    Ok(text)
}

async fn models(options: &ClientOptions, command: ModelsCommand) -> Result<(), CliError> {
    let api = Api::connect(options, true)?;
    let out = options.output;
    let columns = [
        Column::text("NAME", "name"),
        Column::text("VERSIONS", "version_count"),
        Column::text("LATEST", "latest_version"),
        Column::text("TAGS", "tags"),
        Column::time("UPDATED", "updated_at"),
        Column::text("DESCRIPTION", "description"),
    ];
    match command {
        ModelsCommand::List { prefix, tag } => {
            let mut all = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut query = vec![("limit".to_owned(), "200".to_owned())];
                query.extend(prefix.clone().map(|p| ("prefix".to_owned(), p)));
                query.extend(tag.clone().map(|t| ("tag".to_owned(), t)));
                query.extend(cursor.clone().map(|c| ("cursor".to_owned(), c)));
                let (_, page) = api.send(api.client.get(api.url("/v1/models")).query(&query)).await?;
                all.extend(page["models"].as_array().cloned().unwrap_or_default());
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            let models = Value::Array(all);
            show(out, &json!({ "models": models }), || print_table(&models, &columns));
        }
        ModelsCommand::Create { name, description, tags } => {
            let body = json!({ "name": name, "description": description, "tags": tags });
            let (_, model) = api.call(reqwest::Method::POST, "/v1/models", Some(body)).await?;
            show(out, &model, || println!("created model {}", model["name"].as_str().unwrap_or("")));
        }
        ModelsCommand::Show { name } => {
            let model = api.get(&format!("/v1/models/{}", encode(&name))).await?;
            show(out, &model, || print_table(&Value::Array(vec![model.clone()]), &columns));
        }
        ModelsCommand::Delete { name, cascade } => {
            let path = format!("/v1/models/{}?cascade={cascade}", encode(&name));
            api.call(reqwest::Method::DELETE, &path, None).await?;
            show(out, &json!({ "deleted": name }), || println!("deleted model {name}"));
        }
    }
    Ok(())
}

fn key_values(pairs: &[String], what: &str, number: bool) -> Result<serde_json::Map<String, Value>, CliError> {
    let mut map = serde_json::Map::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--{what} {pair:?}: write it as name=value")))?;
        let value = if number {
            let number: f64 =
                value.parse().map_err(|_| CliError::usage(format!("--{what} {key}: {value:?} is not a number")))?;
            json!(number)
        } else {
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()))
        };
        map.insert(key.to_owned(), value);
    }
    Ok(map)
}

async fn push(options: &ClientOptions, args: PushArgs) -> Result<(), CliError> {
    let api = Api::connect(options, true)?;
    let file = tokio::fs::File::open(&args.file)
        .await
        .map_err(|e| CliError::usage(format!("cannot open {}: {e}", args.file.display())))?;
    let size = file.metadata().await.map_err(|e| CliError::usage(format!("{}: {e}", args.file.display())))?.len();
    let mut metadata = serde_json::Map::new();
    let mut inner = serde_json::Map::new();
    let metrics = key_values(&args.metrics, "metric", true)?;
    let params = key_values(&args.params, "param", false)?;
    if !metrics.is_empty() {
        inner.insert("metrics".to_owned(), Value::Object(metrics));
    }
    if !params.is_empty() {
        inner.insert("parameters".to_owned(), Value::Object(params));
    }
    let lineage = json!({ "source_run": args.run, "commit": args.commit, "dataset": args.dataset });
    if lineage.as_object().is_some_and(|l| l.values().any(|v| !v.is_null())) {
        inner.insert("lineage".to_owned(), lineage);
    }
    if !inner.is_empty() {
        metadata.insert("metadata".to_owned(), Value::Object(inner));
    }
    if let Some(description) = &args.description {
        metadata.insert("description".to_owned(), json!(description));
    }
    if !args.tags.is_empty() {
        metadata.insert("tags".to_owned(), json!(args.tags));
    }
    let model = encode(&args.model);
    if args.create {
        match api.call(reqwest::Method::POST, "/v1/models", Some(json!({ "name": args.model }))).await {
            Ok(_) => {}
            Err(error) if error.code == "model_exists" => {}
            Err(error) => return Err(error),
        }
    }
    let progress = output::Progress::new(size, &args.file);
    let reader = progress.wrap(file);
    let stream = tokio_util::io::ReaderStream::with_capacity(reader, 1 << 20);
    let file_name = args.file.file_name().and_then(|n| n.to_str()).unwrap_or("model").to_owned();
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), size)
        .file_name(file_name)
        .mime_str("application/octet-stream")
        .map_err(|e| CliError::usage(e.to_string()))?;
    // The metadata goes first: the server checks it before it stores a byte.
    let form =
        reqwest::multipart::Form::new().text("metadata", Value::Object(metadata).to_string()).part("artifact", part);
    let request = api.client.post(api.url(&format!("/v1/models/{model}/versions"))).multipart(form);
    let answer = api.send(request).await;
    progress.finish(answer.is_ok());
    let (_, version) = answer?;
    show(options.output, &version, || {
        println!(
            "pushed {} as {} version {} ({}, {}, {})",
            args.file.display(),
            version["model"].as_str().unwrap_or(""),
            version["version"],
            output::bytes(version["size_bytes"].as_u64().unwrap_or(0)),
            version["format"].as_str().unwrap_or(""),
            version["digest"].as_str().unwrap_or(""),
        );
        if version["servable"] == false {
            println!("not servable: {}", version["unservable_reason"].as_str().unwrap_or(""));
        }
    });
    Ok(())
}

async fn versions(options: &ClientOptions, command: VersionsCommand) -> Result<(), CliError> {
    let api = Api::connect(options, true)?;
    let out = options.output;
    let columns = [
        Column::text("VERSION", "version"),
        Column::text("FORMAT", "format"),
        Column::text("SERVABLE", "servable"),
        Column::bytes("SIZE", "size_bytes"),
        Column::time("CREATED", "created_at"),
        Column::text("BY", "created_by"),
        Column::text("TAGS", "tags"),
        Column::text("DIGEST", "digest"),
    ];
    match command {
        VersionsCommand::List { model, limit } => {
            let page = api.get(&format!("/v1/models/{}/versions?limit={limit}", encode(&model))).await?;
            show(out, &page, || print_table(&page["versions"], &columns));
        }
        VersionsCommand::Show { model, version } => {
            let v = api.get(&format!("/v1/models/{}/versions/{version}", encode(&model))).await?;
            show(out, &v, || {
                print_table(&Value::Array(vec![v.clone()]), &columns);
                for (direction, key) in [("input", "inputs"), ("output", "outputs")] {
                    for tensor in v["signature"][key].as_array().into_iter().flatten() {
                        println!(
                            "{direction} {}: {} {}",
                            tensor["name"].as_str().unwrap_or(""),
                            tensor["datatype"].as_str().unwrap_or(""),
                            tensor["shape"]
                        );
                    }
                }
            });
        }
        VersionsCommand::Pull { model, version, output_file } => {
            pull(&api, out, &model, version, output_file).await?;
        }
    }
    Ok(())
}

async fn pull(
    api: &Api,
    out: OutputFormat,
    model: &str,
    version: u32,
    output_file: Option<PathBuf>,
) -> Result<(), CliError> {
    use sha2::Digest as _;
    use tokio::io::AsyncWriteExt;
    let path = format!("/v1/models/{}/versions/{version}/artifact", encode(model));
    let mut response = api.client.get(api.url(&path)).send().await.map_err(|e| unreachable(&api.base, &e))?;
    let status = response.status().as_u16();
    if status >= 400 {
        let body = response.bytes().await.unwrap_or_default();
        return Err(CliError::from_status(status, &body));
    }
    let expected = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"').trim_start_matches("sha256:").to_owned())
        .unwrap_or_default();
    let name = response
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("filename=").nth(1))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| format!("{model}-{version}"));
    let target = output_file.unwrap_or_else(|| PathBuf::from(Path::new(&name).file_name().unwrap_or_default()));
    let staged = target.with_extension("part");
    let mut file = tokio::fs::File::create(&staged)
        .await
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", staged.display())))?;
    let mut hasher = sha2::Sha256::new();
    let mut written = 0u64;
    let result = async {
        while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(&api.base, &e))? {
            hasher.update(&chunk);
            written += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(|e| CliError::usage(format!("writing {}: {e}", staged.display())))?;
        }
        file.flush().await.map_err(|e| CliError::usage(format!("writing {}: {e}", staged.display())))?;
        let actual = hex::encode(hasher.finalize());
        if actual != expected {
            return Err(CliError {
                exit: Exit::Server,
                code: "digest_mismatch".to_owned(),
                message: format!(
                    "downloaded bytes have sha256:{actual}, the registry says sha256:{expected}; not kept"
                ),
            });
        }
        Ok(())
    }
    .await;
    if let Err(error) = result {
        let _ = tokio::fs::remove_file(&staged).await;
        return Err(error);
    }
    tokio::fs::rename(&staged, &target).await.map_err(|e| CliError::usage(format!("{}: {e}", target.display())))?;
    let summary =
        json!({ "file": target.display().to_string(), "size_bytes": written, "digest": format!("sha256:{expected}") });
    show(out, &summary, || {
        println!("{} ({}, sha256:{expected} verified)", target.display(), output::bytes(written));
    });
    Ok(())
}

async fn alias(options: &ClientOptions, command: AliasCommand) -> Result<(), CliError> {
    let api = Api::connect(options, true)?;
    let out = options.output;
    match command {
        AliasCommand::Set { model, alias, version, reason } => {
            let mut body = reason_body(reason);
            body["version"] = json!(version);
            let path = format!("/v1/models/{}/aliases/{}", encode(&model), encode(&alias));
            let answer = api.call(reqwest::Method::PUT, &path, Some(body)).await?;
            changed(out, answer, |a| format!("{model}@{alias} -> version {}", a["version"]));
        }
        AliasCommand::Rm { model, alias } => {
            let path = format!("/v1/models/{}/aliases/{}", encode(&model), encode(&alias));
            let answer = api.call(reqwest::Method::DELETE, &path, None).await?;
            let answer = if answer.0 == 204 { (204, json!({ "deleted": alias })) } else { answer };
            changed(out, answer, |_| format!("removed {model}@{alias}"));
        }
        AliasCommand::List { model } => {
            let list = api.get(&format!("/v1/models/{}/aliases", encode(&model))).await?;
            show(out, &list, || {
                print_table(
                    &list["aliases"],
                    &[
                        Column::text("ALIAS", "alias"),
                        Column::text("VERSION", "version"),
                        Column::time("UPDATED", "updated_at"),
                        Column::text("BY", "updated_by"),
                    ],
                )
            });
        }
    }
    Ok(())
}

async fn canary(options: &ClientOptions, command: CanaryCommand) -> Result<(), CliError> {
    let api = Api::connect(options, true)?;
    let out = options.output;
    let (method, model, body, what) = match command {
        CanaryCommand::Set { model, version, percent, reason } => {
            let mut body = reason_body(reason);
            body["version"] = json!(version);
            body["percent"] = json!(percent);
            (reqwest::Method::PUT, model, Some(body), "canary set")
        }
        CanaryCommand::Promote { model } => (reqwest::Method::POST, model, None, "canary promoted"),
        CanaryCommand::Abort { model } => (reqwest::Method::DELETE, model, None, "canary aborted"),
    };
    let suffix = if method == reqwest::Method::POST { "/promote" } else { "" };
    let path = format!("/v1/models/{}/deployment/canary{suffix}", encode(&model));
    let answer = api.call(method, &path, body).await?;
    changed(out, answer, |d| {
        let canary = &d["canary"];
        if canary.is_null() {
            format!("{model}: {what}; version {} takes all traffic", d["version"])
        } else {
            format!("{model}: {what}; version {} takes {}%", canary["version"], canary["percent"])
        }
    });
    Ok(())
}

async fn approvals(options: &ClientOptions, command: ApprovalsCommand) -> Result<(), CliError> {
    let api = Api::connect(options, true)?;
    let out = options.output;
    match command {
        ApprovalsCommand::List { model, state } => {
            let mut query = vec![("state".to_owned(), state)];
            query.extend(model.map(|m| ("model".to_owned(), m)));
            let (_, page) = api.send(api.client.get(api.url("/v1/approvals")).query(&query)).await?;
            show(out, &page, || {
                print_table(
                    &page["changes"],
                    &[
                        Column::text("ID", "id"),
                        Column::text("MODEL", "model"),
                        Column::text("KIND", "kind"),
                        Column::text("VERSION", "version"),
                        Column::text("ALIAS", "alias"),
                        Column::text("BY", "proposed_by"),
                        Column::time("PROPOSED", "proposed_at"),
                        Column::time("EXPIRES", "expires_at"),
                        Column::text("STATE", "state"),
                        Column::text("WHY", "reason"),
                    ],
                )
            });
        }
        ApprovalsCommand::Approve { id, reason } => decide(&api, out, id, reason, "approve").await?,
        ApprovalsCommand::Reject { id, reason } => decide(&api, out, id, reason, "reject").await?,
    }
    Ok(())
}

async fn decide(api: &Api, out: OutputFormat, id: i64, reason: Option<String>, verb: &str) -> Result<(), CliError> {
    let (_, change) =
        api.call(reqwest::Method::POST, &format!("/v1/approvals/{id}/{verb}"), Some(reason_body(reason))).await?;
    show(out, &change, || {
        println!(
            "change {id} ({} of {}) is {}",
            change["kind"].as_str().unwrap_or(""),
            change["model"].as_str().unwrap_or(""),
            change["state"].as_str().unwrap_or("")
        );
    });
    Ok(())
}

fn expiry(text: &str) -> Result<String, CliError> {
    let bad = || CliError::usage(format!("--expires-in {text:?}: write a number and d, h or m (90d, 12h, 30m)"));
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let number: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "d" => number.checked_mul(86_400),
        "h" => number.checked_mul(3_600),
        "m" => number.checked_mul(60),
        _ => None,
    }
    .filter(|s| *s > 0)
    .ok_or_else(bad)?;
    let at = chrono::Utc::now() + chrono::Duration::seconds(seconds);
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

async fn tokens(options: &ClientOptions, command: TokensCommand) -> Result<(), CliError> {
    let api = Api::connect(options, true)?;
    let out = options.output;
    let columns = [
        Column::text("ID", "id"),
        Column::text("NAME", "name"),
        Column::text("PRINCIPAL", "principal"),
        Column::grants("GRANTS", "grants"),
        Column::time("CREATED", "created_at"),
        Column::time("EXPIRES", "expires_at"),
        Column::time("LAST USED", "last_used_at"),
        Column::time("REVOKED", "revoked_at"),
    ];
    match command {
        TokensCommand::Create { name, principal, grants, expires_in } => {
            let grants = grants
                .iter()
                .map(|g| {
                    g.split_once(':').map(|(role, models)| json!({ "role": role, "models": models })).ok_or_else(|| {
                        CliError::usage(format!("--grant {g:?}: write it as ROLE:PATTERN, such as deployer:fraud-*"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let expires_at = expires_in.as_deref().map(expiry).transpose()?;
            let body = json!({ "name": name, "principal": principal, "grants": grants, "expires_at": expires_at });
            let (_, token) = api.call(reqwest::Method::POST, "/v1/tokens", Some(body)).await?;
            show(out, &token, || {
                println!("{}", token["token"].as_str().unwrap_or(""));
                eprintln!(
                    "token {} for {}: shown this once; store it now",
                    token["id"].as_str().unwrap_or(""),
                    principal
                );
            });
        }
        TokensCommand::List { principal, include_revoked } => {
            let mut query = vec![("include_revoked".to_owned(), include_revoked.to_string())];
            query.extend(principal.map(|p| ("principal".to_owned(), p)));
            let (_, page) = api.send(api.client.get(api.url("/v1/tokens")).query(&query)).await?;
            show(out, &page, || print_table(&page["tokens"], &columns));
        }
        TokensCommand::Revoke { id } => {
            let (_, token) = api.call(reqwest::Method::DELETE, &format!("/v1/tokens/{}", encode(&id)), None).await?;
            show(out, &token, || println!("revoked token {id}"));
        }
    }
    Ok(())
}

async fn predict(options: &ClientOptions, reference: &str, input: &str) -> Result<(), CliError> {
    let api = Api::connect(options, true)?;
    let (model, path) = if let Some((model, alias)) = reference.split_once('@') {
        (model, format!("/v1/models/{}/versions/{}/predict", encode(model), encode(alias)))
    } else if let Some((model, version)) = reference.split_once(':') {
        (model, format!("/v1/models/{}/versions/{}/predict", encode(model), encode(version)))
    } else {
        (reference, format!("/v1/models/{}/predict", encode(reference)))
    };
    if model.is_empty() {
        return Err(CliError::usage("give MODEL, MODEL@ALIAS or MODEL:VERSION"));
    }
    let text = read_input(input)?;
    let body: Value = serde_json::from_str(&text).map_err(|e| CliError::usage(format!("{input}: not JSON: {e}")))?;
    // Either the whole request ({"inputs": {...}}) or just the inputs ({"x": [[...]]}).
    let body = if body.get("inputs").is_some() { body } else { json!({ "inputs": body }) };
    let request = api.client.post(api.url(&path)).json(&body);
    let response = request.send().await.map_err(|e| unreachable(&api.base, &e))?;
    let status = response.status().as_u16();
    let served_by = response.headers().get("depot-served-by").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = response.bytes().await.map_err(|e| unreachable(&api.base, &e))?;
    if status >= 400 {
        return Err(CliError::from_status(status, &bytes));
    }
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    show(options.output, &answer, || {
        if let Some(by) = &served_by {
            eprintln!("served by {by}");
        }
        for (name, tensor) in answer["outputs"].as_object().into_iter().flatten() {
            println!("{name} {} {}: {}", tensor["datatype"].as_str().unwrap_or(""), tensor["shape"], tensor["data"]);
        }
    });
    Ok(())
}
