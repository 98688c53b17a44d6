use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use faceauth::config::{LogFormat, RawEnv};
use faceauth::startup::{self, Application};
use faceauth::telemetry::LogTarget;

#[derive(Parser)]
#[command(name = "faceauth", version, about = "Face authentication HTTP service")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Run every startup check (config, secrets, models, storage) and exit 0 or 1 without serving.
    Check,
    /// Embed two local photos and print faces, similarity and timings as JSON.
    Compare { first: PathBuf, second: PathBuf },
    /// Re-embed every stored reference made by another recognizer (resumable; safe while serving).
    Reembed,
    /// Delete every user unused for RETENTION_PERIOD (resumable; safe while serving).
    Retention {
        /// List who would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print, as JSON, every face the pipeline finds in each photo, the subject, its quality and
    /// P(real), and what register would answer.
    Inspect {
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Measure the threshold for a target false-match rate on your own photos: a folder of identity
    /// subfolders (or --pairs FILE.csv); prints EER, a threshold/FNMR table and writes JSON, CSV and
    /// a DET curve.
    Calibrate {
        /// DIR/<identity>/<photo>: same folder genuine, different folders impostor.
        dir: Option<PathBuf>,
        /// `first,second,label` lines (genuine/impostor or 1/0), paths relative to the file.
        #[arg(long)]
        pairs: Option<PathBuf>,
        #[arg(long, default_value_t = 1e-3)]
        target_fmr: f64,
        #[arg(long, default_value = "calibration")]
        out: PathBuf,
        /// Impostor comparisons beyond this are sampled (reproducibly, with --seed).
        #[arg(long, default_value_t = 1_000_000)]
        max_impostors: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// The deployed liveness checks on labelled captures recorded with the SDK on your own cameras
    /// (ISO/IEC 30107-3): BPCER, APCER per attack kind with 95 % intervals, which check refused each
    /// attack, and the limit a target BPCER would need. Prints a table and writes JSON.
    LivenessEval {
        /// DIR/<label>/<capture>.json: label `bona_fide`, or an attack kind (print, screen, replay, mask, ...).
        dir: PathBuf,
        /// The BPCER the tunable limits are computed for.
        #[arg(long, default_value_t = 0.01)]
        target_bpcer: f64,
        #[arg(long, default_value = "liveness-eval.json")]
        out: PathBuf,
    },
    /// Per-group error rates of the deployed pipeline on labelled photos (ISO/IEC 19795-10):
    /// refusals by reason, false matches within and across groups at the threshold, the threshold
    /// each group would need, false non-matches where identities are known; with 95 % intervals
    /// and differentials. Prints a table and writes fairness.json and fairness.svg.
    Fairness {
        /// The folder the labels' image paths are relative to.
        dir: PathBuf,
        /// A CSV (header line: an image column and label columns) or FairFace's ground_truth.json.
        #[arg(long)]
        labels: PathBuf,
        /// The column naming the photo (default: image, file, filename or path).
        #[arg(long)]
        image_column: Option<String>,
        /// The column naming the person, when several photos show one (gives FNMR per group).
        #[arg(long)]
        identity_column: Option<String>,
        /// The FMR each group's own threshold is computed for.
        #[arg(long, default_value_t = 1e-4)]
        target_fmr: f64,
        #[arg(long, default_value = "fairness")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    // A missing .env is normal (production uses the systemd EnvironmentFile).
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let raw = RawEnv::from_process();
    let target = match cli.command {
        None | Some(Command::Serve) => LogTarget::Stdout,
        Some(_) => LogTarget::Stderr,
    };
    faceauth::telemetry::init(raw.log_format().unwrap_or(LogFormat::Text), raw.log_level(), target);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(raw).await,
            Command::Check => check(raw).await,
            Command::Compare { first, second } => faceauth::cli::compare::run(raw, &first, &second),
            Command::Reembed => faceauth::cli::reembed::run(raw).await,
            Command::Retention { dry_run } => faceauth::cli::retention::run(raw, dry_run).await,
            Command::Inspect { images } => faceauth::cli::inspect::run(raw, &images),
            Command::Calibrate { dir, pairs, target_fmr, out, max_impostors, seed } => {
                let options = faceauth::cli::calibrate::Options { dir, pairs, target_fmr, out, max_impostors, seed };
                faceauth::cli::calibrate::run(raw, options).await
            }
            Command::LivenessEval { dir, target_bpcer, out } => {
                let options = faceauth::cli::liveness_eval::Options { dir, target_bpcer, out };
                faceauth::cli::liveness_eval::run(raw, options).await
            }
            Command::Fairness { dir, labels, image_column, identity_column, target_fmr, out } => {
                let options =
                    faceauth::cli::fairness::Options { dir, labels, image_column, identity_column, target_fmr, out };
                faceauth::cli::fairness::run(raw, options).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole chain: what failed, then each cause.
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(raw: RawEnv) -> anyhow::Result<()> {
    let (config, sdk) = startup::load_config(raw).await?;
    let app = Application::build(config, sdk).await?;
    Ok(app.run_until_stopped(startup::shutdown_signal()).await?)
}

async fn check(raw: RawEnv) -> anyhow::Result<()> {
    let (config, sdk) = startup::load_config(raw).await?;
    let service = startup::build_service(&config, sdk).await?;
    let info = service.faces().model_info().clone();
    service.faces().shutdown();
    println!("PASS: configuration, secrets, models and storage are ready");
    println!(
        "models: MODEL_PACK={}; commercial use {}",
        info.pack,
        if info.commercial_use() { "permitted by every model's licence" } else { "NOT permitted (see below)" }
    );
    for m in &info.models {
        let l = &m.card;
        let use_ = if l.commercial_use { "commercial use ok" } else { "NOT for commercial use" };
        println!("  {:?} {} ({}): {}, {use_}; trained on {}", m.stage, m.file, l.model, l.licence, l.training_data);
    }
    Ok(())
}
