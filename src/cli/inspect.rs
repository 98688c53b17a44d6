//! `faceauth inspect IMAGE...`: what the pipeline sees in each photo, and what register would
//! answer, as JSON. For anyone debugging a refusal.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{Value, json};

use super::refusal::code;
use crate::config::{Config, RawEnv};
use crate::face::{FaceEngine, Purpose};

pub fn run(raw: RawEnv, paths: &[PathBuf]) -> anyhow::Result<()> {
    let config = Config::from_raw(&raw)?;
    let (mut spec, _) = crate::startup::model_spec(&config)?;
    // P(real) whenever the liveness models are there, whatever LIVENESS says.
    if config.models.liveness.iter().all(|p| p.is_file()) {
        spec.liveness = config.models.liveness.clone();
    }
    let mut engine = FaceEngine::load(&spec)?;
    let mut out = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
        let image = match engine.decode(&bytes) {
            Ok(image) => image,
            Err(e) => {
                let message = e.to_string();
                out.push(json!({ "file": path, "register": code(e.into()), "verify": null, "error": message }));
                continue;
            }
        };
        let faces: Vec<Value> = engine
            .detect(&image)?
            .iter()
            .map(|f| json!({ "box": f.bbox, "score": f.score, "landmarks": f.landmarks }))
            .collect();
        let probe = engine.analyze_image(&image, Purpose::Verify);
        let register = match engine.analyze_image(&image, Purpose::Enroll) {
            Ok(_) => "ok",
            Err(e) => code(e),
        };
        let mut entry = json!({
            "file": path, "width": image.width(), "height": image.height(), "faces": faces, "register": register,
        });
        match probe {
            Ok(a) => {
                entry["subject"] = json!({ "box": a.face.bbox, "score": a.face.score, "landmarks": a.face.landmarks });
                entry["quality"] = serde_json::to_value(a.quality)?;
                entry["liveness"] = match a.liveness {
                    Some(score) => json!({ "p_real": score.p_real, "label": score.label, "live": score.label == 1 }),
                    None => json!(null),
                };
                entry["verify"] = json!("ok");
            }
            Err(e) => entry["verify"] = json!(code(e)),
        }
        out.push(entry);
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
