use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use faceauth::config::RawEnv;
use faceauth::startup::{self, Application};

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
}

fn main() -> ExitCode {
    // A missing .env is normal (production uses the systemd EnvironmentFile).
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let raw = RawEnv::from_process();
    let format = raw.log_format().unwrap_or(faceauth::config::LogFormat::Text);
    faceauth::telemetry::init(format, raw.get("LOG_LEVEL").unwrap_or("info"));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(raw).await,
            Command::Check => check(raw).await,
            Command::Compare { first, second } => faceauth::compare::run(raw, &first, &second).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(raw: RawEnv) -> Result<(), String> {
    let (config, sdk) = startup::load_config(raw).await.map_err(|e| e.to_string())?;
    let app = Application::build(config, sdk).await.map_err(|e| e.to_string())?;
    app.run_until_stopped(startup::shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn check(raw: RawEnv) -> Result<(), String> {
    let (config, sdk) = startup::load_config(raw).await.map_err(|e| e.to_string())?;
    startup::prepare(&config, sdk).await.map_err(|e| e.to_string())?;
    println!("PASS: configuration, secrets, models and storage are ready");
    Ok(())
}
