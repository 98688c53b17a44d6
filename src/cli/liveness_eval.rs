//! `faceauth liveness-eval DIR`: the deployed liveness checks on captures recorded by the SDK on
//! the operator's own cameras (`recordingFile` in `web/sdk/faceauth.js`, the demo page's "record"
//! option), reported as ISO/IEC 30107-3 counts them (`service::liveness::evaluation`).
//!
//! DIR holds one folder per label: `bona_fide/` for genuine users, and one per attack kind
//! (`print/`, `screen/`, `replay/`, `mask/`, …), each with `*.json` captures in the SDK's recording
//! format (`faceauth-capture/1`: the plan the capture answered, its frames' times, its JPEG frames).
//! The checks run with the configured limits (CHALLENGE_*, LIVENESS_THRESHOLD) whatever LIVENESS
//! says, on the configured models; no reference is matched and no replay memory is kept.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::config::{Config, LivenessMode, RawEnv};
use crate::error::ApiError;
use crate::service::liveness::evaluation::{self, Evaluated, Report};
use crate::service::liveness::{refused_by, trial};
use crate::service::{LivenessPolicy, Plan};

use super::within::labelled;

/// The recording format this command reads (and the SDK writes).
pub const FORMAT: &str = "faceauth-capture/1";

pub struct Options {
    pub dir: PathBuf,
    pub target_bpcer: f64,
    pub out: PathBuf,
}

/// One capture as the SDK records it.
#[derive(Deserialize)]
struct Recording {
    format: String,
    #[serde(default)]
    label: Option<String>,
    /// The `capture` object of the session or challenge it answered.
    plan: Plan,
    /// Milliseconds since the capture started, one per frame.
    times: Vec<f32>,
    /// `shown` or `declined`, as sent in `capture_light`.
    #[serde(default = "shown")]
    light: String,
    /// JPEG frames, base64 (a `data:` URL prefix is allowed).
    frames: Vec<String>,
}

fn shown() -> String {
    "shown".into()
}

struct Loaded {
    name: String,
    label: String,
    recording: Recording,
}

/// Every `DIR/<label>/*.json`, in a stable order.
fn load(dir: &Path) -> anyhow::Result<Vec<Loaded>> {
    let mut captures = Vec::new();
    for (label, files) in labelled(dir, |p| p.extension().is_some_and(|e| e == "json"))? {
        for file in files {
            let name = file.strip_prefix(dir).unwrap_or(&file).display().to_string();
            let text = std::fs::read_to_string(&file).with_context(|| name.clone())?;
            let recording: Recording = serde_json::from_str(&text).with_context(|| format!("{name}: not a capture"))?;
            if recording.format != FORMAT {
                bail!("{name}: format {:?}, this command reads {FORMAT:?}", recording.format);
            }
            if recording.label.as_ref().is_some_and(|l| *l != label) {
                bail!("{name}: recorded as {:?} but filed under {label:?}", recording.label.unwrap_or_default());
            }
            if recording.times.len() != recording.frames.len() {
                bail!("{name}: {} times for {} frames", recording.times.len(), recording.frames.len());
            }
            // A plan no server draws (a hand-edited file) would measure checks against a schedule
            // they were never meant for.
            if !recording.plan.is_well_formed(1) {
                bail!("{name}: the plan is not one a faceauth server draws");
            }
            captures.push(Loaded { name, label: label.clone(), recording });
        }
    }
    if captures.is_empty() {
        bail!("{} has no captures (DIR/<label>/<capture>.json, label bona_fide or an attack kind)", dir.display());
    }
    Ok(captures)
}

fn frame_bytes(frame: &str) -> Option<Bytes> {
    let data = frame.split_once(";base64,").map_or(frame, |(_, d)| d);
    base64::engine::general_purpose::STANDARD.decode(data).ok().map(Bytes::from)
}

pub async fn run(raw: RawEnv, options: Options) -> anyhow::Result<()> {
    let captures = load(&options.dir)?;
    let mut config = Config::from_raw(&raw)?;
    // The challenge's checks are what is measured, with the configured limits: the passive
    // model is loaded whatever LIVENESS says.
    config.face.liveness = LivenessMode::Challenge;
    let policy =
        LivenessPolicy { mode: crate::service::LivenessMode::Challenge, ..crate::startup::liveness_policy(&config) };
    let embedder = super::embed::Embedder::start(&config).await?;
    let mut evaluated = Vec::with_capacity(captures.len());
    for Loaded { name, label, recording } in captures {
        let frames: Option<Vec<Bytes>> = recording.frames.iter().map(|f| frame_bytes(f)).collect();
        let frames = frames.with_context(|| format!("{name}: a frame is not base64"))?;
        let declined = recording.light == "declined";
        let result = trial(&policy, embedder.pool(), &recording.plan, frames, &recording.times, declined).await;
        // The reason in full for the operator (which frame, which value); the code as a client saw it.
        let reason = result.verdict.as_ref().err().map(|e| e.to_string());
        let refused = result.verdict.err().map(|e| (refused_by(&e), ApiError::from(e).code()));
        match (refused, reason) {
            (Some((_, code)), Some(reason)) => eprintln!("{name}: {code}: {reason}"),
            _ => eprintln!("{name}: accepted"),
        }
        evaluated.push(Evaluated {
            name,
            label,
            refused,
            parallax: result.parallax,
            light: result.light,
            shading: result.shading,
        });
    }
    embedder.shutdown();
    let report = evaluation::report(&evaluated, policy.min_parallax, policy.min_shading, options.target_bpcer);
    print!("{}", table(&report, embedder.info.pack));
    let rows: Vec<_> = evaluated
        .iter()
        .map(|e| {
            json!({
                "capture": e.name,
                "label": e.label,
                "refused_by": e.refused.map(|(check, _)| check),
                "code": e.refused.map(|(_, code)| code),
                "parallax": e.parallax,
                "shading": e.shading,
                "light": e.light.map(|l| json!({
                    "correlation": l.correlation, "face": l.face, "surround": l.surround, "lag_ms": l.lag_ms,
                })),
            })
        })
        .collect();
    let out = json!({
        "pack": embedder.info.pack,
        "limits": {
            "min_parallax": policy.min_parallax,
            "min_shading": policy.min_shading,
            "min_turn_yaw": policy.min_turn_yaw,
            "min_nod_pitch": policy.min_nod_pitch,
            "passive_threshold": policy.threshold,
            "light_min_correlation": crate::service::liveness::light::MIN_CORRELATION,
            "light_min_contrast": crate::service::liveness::light::MIN_CONTRAST,
        },
        "report": report,
        "captures": rows,
    });
    std::fs::write(&options.out, serde_json::to_string_pretty(&out)?)
        .with_context(|| options.out.display().to_string())?;
    println!("written: {}", options.out.display());
    Ok(())
}

fn percent(rate: &crate::calibration::interval::Rate) -> String {
    format!(
        "{:>5.1} % [{:.1}, {:.1}]  ({} of {})",
        rate.value * 100.0,
        rate.lower * 100.0,
        rate.upper * 100.0,
        rate.errors,
        rate.trials
    )
}

/// The report as a terminal table.
fn table(report: &Report, pack: &str) -> String {
    let mut out = format!("liveness-eval: {} captures, pack {pack}, 95 % Clopper–Pearson intervals\n", report.captures);
    let by = |k: &evaluation::KindReport| {
        k.refused_by.iter().map(|(check, n)| format!("{check:?} {n}").to_lowercase()).collect::<Vec<_>>().join(", ")
    };
    match &report.bpcer {
        Some(b) => out += &format!("{:<12} BPCER {}  refused by: {}\n", "bona_fide", percent(&b.error_rate), by(b)),
        None => out += "bona_fide    none recorded: no BPCER\n",
    }
    for a in &report.apcer {
        out += &format!("{:<12} APCER {}  refused by: {}\n", a.kind, percent(&a.error_rate), by(a));
    }
    if let Some(worst) = report.apcer.iter().max_by(|a, b| a.error_rate.value.total_cmp(&b.error_rate.value)) {
        out += &format!("{:<12} APCER {}  (the worst kind: {})\n", "APCER_AP", percent(&worst.error_rate), worst.kind);
    }
    for n in &report.thresholds {
        let value = n.value.map_or("unmeasured".to_string(), |v| format!("{v:.3}"));
        out += &format!(
            "{:<18} for BPCER ≤ {:.1} %: ≥ {value} (configured {:.3}; {} bona fide measured; alone it refuses {} of {} attacks measured)\n",
            n.measure,
            n.target_bpcer * 100.0,
            n.configured,
            n.bona_fide_measured,
            n.attacks_refused,
            n.attacks_measured
        );
    }
    out
}
