//! In-process inference benchmark: batch-1 latency and throughput of tiny.onnx and mlp.onnx,
//! the floor under the HTTP numbers.
//!
//! ```text
//! cargo run --release -p depot-runtime --example inproc_bench -- [--threads N] [--seconds S] [--runtime]
//! ```
//!
//! Without `--runtime` it measures `Session::run` directly: one session per thread, one
//! intra-op thread per session. With `--runtime` it measures `ValidatedInputs::new` then
//! `LoadedModel::infer` (validation, admission, a blocking-pool hop unless the run is inline,
//! and tensor conversion included) from N concurrent Tokio tasks
//! on a version with N sessions. ONNX Runtime is loaded once per process, so the two modes are
//! separate runs. For each model: single-thread p50/p99 latency and throughput, then the same
//! with N threads (or tasks). The library is `$DEPOT_ORT_LIBRARY`, else
//! `.depot/lib/libonnxruntime.so.1.31.0` (`scripts/fetch-onnxruntime.sh`).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use depot_domain::{
    DataType, Digest, ModelName, NamedTensor, Signature, Tensor, TensorData, TensorSpec, ValidatedInputs, VersionNumber,
};
use depot_runtime::{LoadedModel, Runtime, RuntimeConfig, VersionKey};
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;

struct Args {
    threads: usize,
    seconds: f64,
    runtime: bool,
}

fn parse_args() -> Result<Args> {
    let mut args =
        Args { threads: std::thread::available_parallelism().map_or(2, |n| n.get()), seconds: 3.0, runtime: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--threads" => args.threads = it.next().context("--threads N")?.parse()?,
            "--seconds" => args.seconds = it.next().context("--seconds S")?.parse()?,
            "--runtime" => args.runtime = true,
            "--help" | "-h" => {
                println!("inproc_bench [--threads N] [--seconds S] [--runtime]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}; try --help"),
        }
    }
    if args.threads == 0 {
        bail!("--threads must be at least 1");
    }
    Ok(args)
}

/// A benchmarked model: its fixture and batch-1 input.
struct Model {
    name: &'static str,
    bytes: Vec<u8>,
    input: &'static str,
    features: usize,
    output: &'static str,
    classes: usize,
}

impl Model {
    fn load(root: &Path, name: &'static str, features: usize, output: &'static str, classes: usize) -> Result<Self> {
        let path = root.join("tests/fixtures").join(format!("{name}.onnx"));
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Self { name, bytes, input: "x", features, output, classes })
    }

    fn row(&self) -> Vec<f32> {
        (0..self.features).map(|i| (i % 17) as f32 / 17.0).collect()
    }

    fn signature(&self) -> Signature {
        Signature {
            inputs: vec![TensorSpec::tensor(self.input, DataType::Fp32, vec![-1, self.features as i64])],
            outputs: vec![TensorSpec::tensor(self.output, DataType::Fp32, vec![-1, self.classes as i64])],
        }
    }
}

/// Latencies of one phase, over all threads.
struct Phase {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Phase {
    fn merge(phases: Vec<Phase>) -> Phase {
        let elapsed = phases.iter().map(|p| p.elapsed).max().unwrap_or_default();
        Phase { latencies: phases.into_iter().flat_map(|p| p.latencies).collect(), elapsed }
    }

    fn row(mut self, model: &str, path: &str, threads: usize) -> String {
        self.latencies.sort_unstable();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
            self.latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        let throughput = self.latencies.len() as f64 / self.elapsed.as_secs_f64();
        format!(
            "{model:<6} {path:<24} {threads:>7} {:>10.1} {:>10.1} {throughput:>12.0} {:>10}",
            pct(0.50),
            pct(0.99),
            self.latencies.len()
        )
    }
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let library = std::env::var_os("DEPOT_ORT_LIBRARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".depot/lib/libonnxruntime.so.1.31.0"));
    let models = [Model::load(&root, "tiny", 4, "y", 3)?, Model::load(&root, "mlp", 784, "logits", 10)?];

    println!(
        "batch 1, {} s per phase, {} cores; latency in microseconds",
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<6} {:<24} {:>7} {:>10} {:>10} {:>12} {:>10}",
        "model", "path", "threads", "p50_us", "p99_us", "runs/s", "runs"
    );
    let duration = Duration::from_secs_f64(args.seconds);
    if args.runtime {
        bench_runtime(&library, &models, args.threads, duration)
    } else {
        bench_sessions(&library, &models, args.threads, duration)
    }
}

/// `Session::run` directly, one session per thread.
fn bench_sessions(library: &Path, models: &[Model], threads: usize, duration: Duration) -> Result<()> {
    let environment = ort::init_from(library)
        .with_context(|| format!("loading {} (run scripts/fetch-onnxruntime.sh)", library.display()))?
        .with_telemetry(false)
        .build()?;
    for model in models {
        for n in dedup([1, threads]) {
            let sessions = (0..n).map(|_| new_session(&environment, &model.bytes)).collect::<Result<Vec<_>>>()?;
            let phases = std::thread::scope(|scope| -> Result<Vec<Phase>> {
                let handles: Vec<_> = sessions
                    .into_iter()
                    .map(|session| scope.spawn(move || run_session(session, model, duration)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().map_err(|_| anyhow::anyhow!("a benchmark thread panicked"))?)
                    .collect()
            })
            .map(Phase::merge)?;
            println!("{}", phases.row(model.name, "ort Session::run", n));
        }
    }
    Ok(())
}

fn new_session(environment: &ort::environment::Environment, bytes: &[u8]) -> Result<Session> {
    // The builder's errors carry the builder, which is not `Send`; keep their message.
    let failed = |e: ort::Error<_>| anyhow::anyhow!("creating a session: {e}");
    Session::builder(environment)?
        .with_intra_threads(1)
        .map_err(failed)?
        .with_inter_threads(1)
        .map_err(failed)?
        .commit_from_memory(bytes)
        .map_err(|e| anyhow::anyhow!("creating a session: {e}"))
}

fn run_session(mut session: Session, model: &Model, duration: Duration) -> Result<Phase> {
    let row = model.row();
    let once = |session: &mut Session| -> Result<()> {
        let input = TensorRef::from_array_view(([1usize, model.features], &row[..]))?;
        let outputs = session.run(vec![(Cow::Borrowed(model.input), SessionInputValue::from(input))])?;
        let (_, scores) = outputs[model.output].try_extract_tensor::<f32>()?;
        anyhow::ensure!(scores.len() == model.classes, "unexpected output length {}", scores.len());
        Ok(())
    };
    for _ in 0..50 {
        once(&mut session)?;
    }
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        let t = Instant::now();
        once(&mut session)?;
        latencies.push(t.elapsed());
    }
    Ok(Phase { latencies, elapsed: started.elapsed() })
}

/// `LoadedModel::infer` from N concurrent tasks on a version with N sessions.
fn bench_runtime(library: &Path, models: &[Model], threads: usize, duration: Duration) -> Result<()> {
    let executor = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
    executor.block_on(async {
        for n in dedup([1, threads]) {
            let runtime = Runtime::new(RuntimeConfig {
                library_path: library.to_owned(),
                intra_op_threads: 1,
                inter_op_threads: 1,
                sessions_per_version: n,
                max_queue_per_version: 4 * n,
                ..RuntimeConfig::default()
            })?;
            for model in models {
                let key = VersionKey::new(
                    ModelName::parse(model.name)?,
                    VersionNumber::new(1).context("version")?,
                    Digest::of(&model.bytes),
                );
                let bytes = bytes::Bytes::from(model.bytes.clone());
                let loaded = runtime
                    .get_or_load(key, &model.signature(), None, async { Ok::<_, std::convert::Infallible>(bytes) })
                    .await?;
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let (loaded, signature) = (Arc::clone(&loaded), model.signature());
                        tokio::spawn(run_infer(loaded, signature, model.row(), model.features, duration))
                    })
                    .collect();
                let mut phases = Vec::new();
                for task in tasks {
                    phases.push(task.await??);
                }
                println!("{}", Phase::merge(phases).row(model.name, "depot LoadedModel::infer", n));
            }
        }
        Ok(())
    })
}

async fn run_infer(
    model: Arc<LoadedModel>,
    signature: Signature,
    row: Vec<f32>,
    features: usize,
    duration: Duration,
) -> Result<Phase> {
    let input = || vec![NamedTensor::new("x", Tensor::new(vec![1, features], TensorData::F32(row.clone())))];
    for _ in 0..50 {
        model.infer(ValidatedInputs::new(&signature, input())?).await?;
    }
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        let t = Instant::now();
        model.infer(ValidatedInputs::new(&signature, input())?).await?;
        latencies.push(t.elapsed());
    }
    Ok(Phase { latencies, elapsed: started.elapsed() })
}

fn dedup(counts: [usize; 2]) -> Vec<usize> {
    if counts[0] == counts[1] { vec![counts[0]] } else { counts.to_vec() }
}
