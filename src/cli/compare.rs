//! `faceauth compare a.jpg b.jpg`: the pipeline on two local files, as JSON.

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use anyhow::Context;

use crate::config::{Config, RawEnv};
use crate::face::{FaceEngine, Purpose};

pub fn run(raw: RawEnv, first: &Path, second: &Path) -> anyhow::Result<()> {
    let config = Config::from_raw(&raw)?;
    let (spec, info) = crate::startup::model_spec(&config)?;
    let mut engine = FaceEngine::load(&spec)?;
    let mut describe = |path: &Path| -> anyhow::Result<(serde_json::Value, Option<crate::face::Embedding>)> {
        let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
        let start = Instant::now();
        let image = match engine.decode(&bytes) {
            Ok(image) => image,
            Err(e) => return Ok((json!({ "file": path, "error": e.to_string() }), None)),
        };
        let faces = engine.detect(&image)?;
        let all: Vec<_> =
            faces.iter().map(|f| json!({ "box": f.bbox, "score": f.score, "landmarks": f.landmarks })).collect();
        match engine.analyze_image(&image, Purpose::Verify) {
            Ok(a) => Ok((
                json!({
                    "file": path, "width": a.width, "height": a.height, "faces": all,
                    "subject": { "box": a.face.bbox, "score": a.face.score },
                    "timings_ms": { "total": start.elapsed().as_secs_f64() * 1000.0, "detect": a.timings.detect_ms, "embed": a.timings.embed_ms },
                }),
                Some(a.embedding),
            )),
            Err(e) => Ok((json!({ "file": path, "faces": all, "error": e.to_string() }), None)),
        }
    };
    let (a, ea) = describe(first)?;
    let (b, eb) = describe(second)?;
    let similarity = ea.as_ref().zip(eb.as_ref()).map(|(x, y)| x.cosine(y));
    let out = json!({
        "first": a, "second": b,
        "similarity": similarity,
        "threshold": info.threshold,
        "same_person": similarity.map(|s| s >= info.threshold),
        "model": info.profile.name,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}
