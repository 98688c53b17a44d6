//! `faceauth calibrate DIR` (or `--pairs FILE.csv`): the threshold for a target false-match rate,
//! measured on the operator's own photos with the configured models and pipeline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::json;

use crate::calibration::interval::Rate;
use crate::calibration::{OperatingPoint, Scores, TARGETS, pairs, per_identity};
use crate::config::{Config, RawEnv};
use crate::face::{Embedding, Purpose};

use super::within::{labelled, within};

pub struct Options {
    pub dir: Option<PathBuf>,
    pub pairs: Option<PathBuf>,
    pub target_fmr: f64,
    pub out: PathBuf,
    pub max_impostors: usize,
    pub seed: u64,
}

/// The photos to embed, and which comparisons are genuine or impostor.
struct Plan {
    photos: Vec<PathBuf>,
    genuine: Vec<(usize, usize)>,
    impostor: Vec<(usize, usize)>,
}

fn is_photo(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png" | "webp"))
}

/// Identity subfolders: same folder, genuine; different folders, impostor (sampled when huge).
fn plan_from_dir(dir: &Path, max_impostors: usize, seed: u64) -> anyhow::Result<Plan> {
    let mut photos = Vec::new();
    let mut identities = Vec::new();
    for (id, (_, files)) in labelled(dir, is_photo)?.into_iter().enumerate() {
        identities.extend(std::iter::repeat_n(id, files.len()));
        photos.extend(files);
    }
    if photos.is_empty() {
        bail!("{} has no identity subfolders with photos (DIR/<identity>/<photo>.jpg)", dir.display());
    }
    let (genuine, impostor) = pairs(&identities, max_impostors, seed);
    Ok(Plan { photos, genuine, impostor })
}

/// `first,second,label` lines (label `genuine`/`impostor`, or 1/0), paths relative to the file.
fn plan_from_csv(file: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut index: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut photos = Vec::new();
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [a, b, label] = fields[..] else { bail!("{}:{}: expected first,second,label", file.display(), n + 1) };
        if n == 0 && !matches!(label, "genuine" | "impostor" | "1" | "0") {
            continue; // a header line
        }
        // Photos are read only under the pairs file's folder (links followed): the file may come
        // from someone else.
        let mut id = |p: &str| -> anyhow::Result<usize> {
            let path = within(base, p).with_context(|| format!("{}:{}", file.display(), n + 1))?;
            Ok(*index.entry(path.clone()).or_insert_with(|| {
                photos.push(path);
                photos.len() - 1
            }))
        };
        let pair = (id(a)?, id(b)?);
        match label {
            "genuine" | "1" => genuine.push(pair),
            "impostor" | "0" => impostor.push(pair),
            other => bail!("{}:{}: label {other} is not genuine/impostor/1/0", file.display(), n + 1),
        }
    }
    Ok(Plan { photos, genuine, impostor })
}

pub async fn run(raw: RawEnv, options: Options) -> anyhow::Result<()> {
    let plan = match (&options.dir, &options.pairs) {
        (_, Some(csv)) => plan_from_csv(csv)?,
        (Some(dir), None) => plan_from_dir(dir, options.max_impostors, options.seed)?,
        (None, None) => bail!("give a folder of identity subfolders, or --pairs FILE.csv"),
    };
    let config = Config::from_raw(&raw)?;
    let embedder = super::embed::Embedder::start(&config).await?;
    // Each photo once, with the verification policy (what a probe would get).
    let results = embedder.run(&plan.photos, Purpose::Verify, "embedded").await;
    embedder.shutdown();
    let info = embedder.info;
    let mut embeddings: Vec<Option<Embedding>> = vec![None; plan.photos.len()];
    let mut unusable = Vec::new();
    for (i, outcome) in results.into_iter().enumerate() {
        match outcome {
            Ok(e) => embeddings[i] = Some(e),
            Err(code) => unusable.push(json!({ "photo": plan.photos[i], "code": code })),
        }
    }
    let score = |(a, b): &(usize, usize)| Some(embeddings[*a].as_ref()?.cosine(embeddings[*b].as_ref()?));
    let usable = |list: &[(usize, usize)]| list.iter().filter_map(|p| score(p).map(|s| (*p, s))).collect::<Vec<_>>();
    let (genuine, impostor) = (usable(&plan.genuine), usable(&plan.impostor));
    let scores = Scores {
        genuine: genuine.iter().map(|(_, s)| *s).collect(),
        impostor: impostor.iter().map(|(_, s)| *s).collect(),
    };
    let (eer, eer_threshold) = scores.eer();
    let table: Vec<OperatingPoint> = TARGETS.iter().map(|t| scores.at_fmr(*t)).collect();
    let chosen = scores.at_fmr(options.target_fmr);
    // FNMR with every identity weighted equally, beside the per-pair figure of each row.
    let identity = per_identity::identities_from_pairs(plan.photos.len(), &plan.genuine);
    let genuine_by_identity: Vec<(f32, usize)> = genuine.iter().map(|((a, _), s)| (*s, identity[*a])).collect();
    let by_identity: Vec<Rate> = table.iter().map(|p| per_identity::fnmr(&genuine_by_identity, p.threshold)).collect();
    let identities = genuine_by_identity.iter().map(|(_, i)| *i).collect::<std::collections::BTreeSet<_>>().len();
    // The deployed threshold as it stands, measured on these photos: what users meet today.
    let (now_fmr, now_fnmr) = scores.intervals(info.threshold);
    let now_by_identity = per_identity::fnmr(&genuine_by_identity, info.threshold);

    std::fs::create_dir_all(&options.out).with_context(|| options.out.display().to_string())?;
    write_files(&options.out, &plan.photos, &genuine, &impostor, &table, &scores)?;
    let summary = json!({
        "model": info.profile.name, "photos": plan.photos.len(), "unusable": unusable,
        "genuine": scores.genuine.len(), "impostor": scores.impostor.len(),
        "eer": eer, "eer_threshold": eer_threshold, "table": table,
        "fnmr_identities_equal": by_identity, "genuine_identities": identities,
        "at_current_threshold": { "fmr": now_fmr, "fnmr": now_fnmr, "fnmr_identities_equal": now_by_identity },
        "target_fmr": options.target_fmr, "suggested_threshold": chosen.threshold,
        "suggested_supported": chosen.supported, "current_threshold": info.threshold,
    });
    std::fs::write(options.out.join("summary.json"), serde_json::to_vec_pretty(&summary)?)?;

    println!("model {} on {} photos ({} unusable)", info.profile.name, plan.photos.len(), unusable.len());
    println!(
        "{} genuine comparisons of {identities} people and {} impostor comparisons",
        scores.genuine.len(),
        scores.impostor.len()
    );
    println!("EER {:.4} at threshold {eer_threshold:.4}\n", eer);
    println!(
        "| target FMR | threshold | FMR [95 % interval] | FNMR per pair [95 %] | FNMR, each person equal [95 %] | \
         supported (upper bound < 2x target) | impostors needed (rule of 30) |\n|---|---|---|---|---|---|---|"
    );
    for (p, person) in table.iter().zip(&by_identity) {
        let mark = if p.supported { "yes" } else { "no: too few impostor pairs" };
        let [fm, fml, fmu, fnm, fnml, fnmu] = rates(p);
        println!(
            "| {:e} | {:.4} | {fm:.2e} [{fml:.2e}, {fmu:.2e}] | {fnm:.4} [{fnml:.4}, {fnmu:.4}] | {:.4} [{:.4}, {:.4}] | \
             {mark} | {} |",
            p.target_fmr, p.threshold, person.value, person.lower, person.upper, p.impostors_needed
        );
    }
    println!(
        "\nat the threshold in force ({:.4}): FMR {:.2e} [{:.2e}, {:.2e}], FNMR per pair {:.4} [{:.4}, {:.4}], FNMR with \
         each person equal {:.4} [{:.4}, {:.4}]",
        info.threshold,
        now_fmr.value,
        now_fmr.lower,
        now_fmr.upper,
        now_fnmr.value,
        now_fnmr.lower,
        now_fnmr.upper,
        now_by_identity.value,
        now_by_identity.lower,
        now_by_identity.upper
    );
    for u in &unusable {
        println!("unusable: {} ({})", u["photo"].as_str().unwrap_or_default(), u["code"].as_str().unwrap_or_default());
    }
    println!(
        "\nsuggested MATCH_THRESHOLD={:.4} for FMR {:e}{} (now {:.4}); files in {}",
        chosen.threshold,
        options.target_fmr,
        if chosen.supported { "" } else { " (NOT supported by this many impostor pairs: collect more photos)" },
        info.threshold,
        options.out.display()
    );
    Ok(())
}

type Pair = ((usize, usize), f32);

/// FMR, its bounds, FNMR, its bounds: the order the table and the CSV show them.
fn rates(p: &OperatingPoint) -> [f64; 6] {
    let (fm, fnm) = (&p.fmr_interval, &p.fnmr_interval);
    [fm.value, fm.lower, fm.upper, fnm.value, fnm.lower, fnm.upper]
}

fn write_files(
    out: &Path,
    photos: &[PathBuf],
    genuine: &[Pair],
    impostor: &[Pair],
    table: &[OperatingPoint],
    scores: &Scores,
) -> anyhow::Result<()> {
    let mut csv = String::from("kind,score,first,second\n");
    for (kind, list) in [("genuine", genuine), ("impostor", impostor)] {
        for ((a, b), s) in list {
            csv.push_str(&format!("{kind},{s},{},{}\n", photos[*a].display(), photos[*b].display()));
        }
    }
    std::fs::write(out.join("scores.csv"), csv)?;
    std::fs::write(
        out.join("scores.json"),
        serde_json::to_vec(&json!({ "genuine": scores.genuine, "impostor": scores.impostor }))?,
    )?;
    let mut rows = String::from(
        "target_fmr,threshold,fmr,fmr_lower,fmr_upper,fnmr,fnmr_lower,fnmr_upper,supported,impostors_needed\n",
    );
    for p in table {
        let rates = rates(p).map(|r| r.to_string()).join(",");
        rows.push_str(&format!("{},{},{rates},{},{}\n", p.target_fmr, p.threshold, p.supported, p.impostors_needed));
    }
    std::fs::write(out.join("table.csv"), rows)?;
    std::fs::write(out.join("table.json"), serde_json::to_vec_pretty(table)?)?;
    det_svg(&out.join("det.svg"), scores)
}

/// The DET curve, FNMR against FMR, both on log axes, with the FNMR's 95 % band (dashed).
fn det_svg(path: &Path, scores: &Scores) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let floor = |n: usize| 1.0 / (n.max(1) as f64 * 10.0);
    let (fmr_floor, fnmr_floor) = (floor(scores.impostor.len()), floor(scores.genuine.len()));
    let band = scores.det_band(200);
    let points: Vec<(f64, f64)> =
        band.iter().map(|(fmr, fnmr, _, _)| (fmr.max(fmr_floor), fnmr.max(fnmr_floor))).collect();
    let lower: Vec<(f64, f64)> = band.iter().map(|(fmr, _, lo, _)| (fmr.max(fmr_floor), lo.max(fnmr_floor))).collect();
    let upper: Vec<(f64, f64)> = band.iter().map(|(fmr, _, _, hi)| (fmr.max(fmr_floor), hi.max(fnmr_floor))).collect();
    let root = SVGBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("DET curve", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d((fmr_floor..1.0).log_scale(), (fnmr_floor..1.0).log_scale())?;
    chart.configure_mesh().x_desc("FMR (false match rate)").y_desc("FNMR (false non-match rate)").draw()?;
    let faint = BLUE.mix(0.4);
    for edge in [lower, upper] {
        chart.draw_series(DashedLineSeries::new(edge, 4, 3, faint.stroke_width(1)))?;
    }
    chart.draw_series(LineSeries::new(points, &BLUE))?;
    root.present()?;
    Ok(())
}
