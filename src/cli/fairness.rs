//! `faceauth fairness DIR --labels FILE`: per-group error rates of the deployed pipeline (the same
//! detector, quality gate, recognizer and threshold as `serve`) on a labelled set of photos; a
//! table on stdout, `fairness.json` and `fairness.svg` in `--out`. The maths is
//! `calibration::fairness`; labels come as a CSV (an image column and any label columns) or as
//! FairFace's `ground_truth.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::calibration::fairness::{GroupRates, Photo, Report, report};
use crate::calibration::interval::Rate;
use crate::config::{Config, RawEnv};
use crate::face::Purpose;

use super::within::{markdown_cell, within};

pub struct Options {
    pub dir: PathBuf,
    pub labels: PathBuf,
    /// The column naming the photo (default: image, file, filename or path, whichever exists).
    pub image_column: Option<String>,
    /// The column naming the person, when photos share people (gives false non-match rates).
    pub identity_column: Option<String>,
    pub target_fmr: f64,
    pub out: PathBuf,
}

/// The labelled photos: the label columns' names, and per photo its file, labels and identity.
pub struct Labelled {
    pub columns: Vec<String>,
    pub photos: Vec<(PathBuf, Vec<String>, Option<String>)>,
}

const IMAGE_COLUMNS: [&str; 4] = ["image", "file", "filename", "path"];

/// Rows of named fields (from a CSV or a JSON list) into photos and label columns. Fields that are
/// neither the image, the identity, nor (in FairFace's JSON) the photo's own `id` are labels.
fn labelled(
    dir: &Path,
    names: Vec<String>,
    rows: Vec<Vec<String>>,
    options: &Options,
    skip: &[&str],
) -> anyhow::Result<Labelled> {
    let find = |name: &str| names.iter().position(|n| n == name);
    let image = match &options.image_column {
        Some(c) => find(c).with_context(|| format!("no column {c} in {}", options.labels.display()))?,
        None => IMAGE_COLUMNS.iter().find_map(|c| find(c)).with_context(|| {
            format!(
                "{} has no image column ({}): name it with --image-column",
                options.labels.display(),
                IMAGE_COLUMNS.join(", ")
            )
        })?,
    };
    let identity = match &options.identity_column {
        Some(c) => Some(find(c).with_context(|| format!("no column {c} in {}", options.labels.display()))?),
        None => None,
    };
    let label_columns: Vec<usize> = (0..names.len())
        .filter(|i| *i != image && Some(*i) != identity && !skip.contains(&names[*i].as_str()))
        .collect();
    if label_columns.is_empty() {
        bail!("{} has no label column besides the image", options.labels.display());
    }
    if label_columns.len() > 4 {
        bail!("{} label columns: at most 4 (every combination is reported)", label_columns.len());
    }
    let photos = rows
        .into_iter()
        .map(|row| {
            let labels = label_columns.iter().map(|c| row[*c].clone()).collect();
            Ok((within(dir, &row[image])?, labels, identity.map(|c| row[c].clone())))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Labelled { columns: label_columns.iter().map(|c| names[*c].clone()).collect(), photos })
}

/// A CSV with a header line; fields are split on commas (no quoting: labels are short words).
fn from_csv(dir: &Path, text: &str, options: &Options) -> anyhow::Result<Labelled> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> =
        lines.next().context("the labels file is empty")?.split(',').map(|f| f.trim().to_string()).collect();
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let row: Vec<String> = line.split(',').map(|f| f.trim().to_string()).collect();
        if row.len() != header.len() {
            bail!("{}:{}: {} fields, the header has {}", options.labels.display(), n + 2, row.len(), header.len());
        }
        rows.push(row);
    }
    labelled(dir, header, rows, options, &[])
}

/// FairFace's `ground_truth.json`: a list of objects with the same keys (`id`, `filename`, `age`,
/// `gender`, …); `id` names the photo, not a person.
fn from_json(dir: &Path, text: &str, options: &Options) -> anyhow::Result<Labelled> {
    let list: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(text).context("expected a JSON list of objects")?;
    let names: Vec<String> = list.first().context("the labels file is empty")?.keys().cloned().collect();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let rows = list
        .iter()
        .enumerate()
        .map(|(n, row)| {
            names
                .iter()
                .map(|k| row.get(k).map(text).with_context(|| format!("entry {n} has no {k}")))
                .collect::<anyhow::Result<Vec<String>>>()
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    labelled(dir, names, rows, options, &["id"])
}

pub fn read_labels(options: &Options) -> anyhow::Result<Labelled> {
    let text = std::fs::read_to_string(&options.labels).with_context(|| options.labels.display().to_string())?;
    match options.labels.extension().and_then(|e| e.to_str()) {
        Some("json") => from_json(&options.dir, &text, options),
        _ => from_csv(&options.dir, &text, options),
    }
}

pub async fn run(raw: RawEnv, options: Options) -> anyhow::Result<()> {
    let labelled = read_labels(&options)?;
    let config = Config::from_raw(&raw)?;
    let embedder = super::embed::Embedder::start(&config).await?;
    let files: Vec<PathBuf> = labelled.photos.iter().map(|(p, _, _)| p.clone()).collect();
    // As a probe (what verify sees) and as a reference (what register's gate lets through).
    let probes = embedder.run(&files, Purpose::Verify, "as probes").await;
    let references = embedder.run(&files, Purpose::Enroll, "as references").await;
    embedder.shutdown();
    let info = embedder.info;
    let photos: Vec<Photo> = labelled
        .photos
        .iter()
        .zip(probes.iter().zip(&references))
        .map(|((_, labels, identity), (probe, reference))| Photo {
            labels: labels.clone(),
            identity: identity.clone(),
            verify: probe.as_ref().err().copied(),
            enrol: reference.as_ref().err().copied(),
        })
        .collect();
    let n = photos.len();
    let mut scores = vec![0f32; n * n];
    for a in 0..n {
        for b in a + 1..n {
            if let (Ok(x), Ok(y)) = (&probes[a], &probes[b]) {
                scores[a * n + b] = x.cosine(y);
            }
        }
    }
    let score = |a: usize, b: usize| scores[a.min(b) * n + a.max(b)];
    let result = report(&labelled.columns, &photos, &score, info.threshold, options.target_fmr);

    std::fs::create_dir_all(&options.out).with_context(|| options.out.display().to_string())?;
    let json = serde_json::json!({
        "model_pack": info.pack, "model": info.profile.name, "photos": n,
        "labels": options.labels, "report": result,
    });
    std::fs::write(options.out.join("fairness.json"), serde_json::to_vec_pretty(&json)?)?;
    super::fairness_plot::svg(&options.out.join("fairness.svg"), &result)?;
    println!("MODEL_PACK={} ({}), threshold {:.4}, {n} photos", info.pack, info.profile.name, info.threshold);
    print!("{}", table(&result));
    println!("\nfiles in {}", options.out.display());
    Ok(())
}

fn pct(rate: &Rate) -> String {
    format!("{:.2} % [{:.2}, {:.2}]", 100.0 * rate.value, 100.0 * rate.lower, 100.0 * rate.upper)
}

fn fmr(rate: &Rate) -> String {
    format!("{}/{} = {:.2e} [{:.1e}, {:.1e}]", rate.errors, rate.trials, rate.value, rate.lower, rate.upper)
}

fn times(ratio: Option<f64>) -> String {
    ratio.map_or("–".into(), |r| format!("{r:.2}×"))
}

fn row(g: &GroupRates) -> String {
    let reasons = |m: &std::collections::BTreeMap<&str, usize>| {
        m.iter().map(|(c, k)| format!("{c} {k}")).collect::<Vec<_>>().join(", ")
    };
    let needed = format!("{:.3}{}", g.threshold_needed, if g.threshold_needed_supported { "" } else { " (n/s)" });
    format!(
        "| {} | {} | {} {} | {} {} | {} ({}) | {} | {} | {} | {} |\n",
        markdown_cell(&g.group),
        g.photos,
        pct(&g.not_detected),
        reasons(&g.not_detected_by_code),
        pct(&g.enrol_refused),
        reasons(&g.enrol_refused_by_code),
        fmr(&g.fmr_within),
        times(g.fmr_within_differential.over_overall),
        fmr(&g.fmr_across),
        needed,
        g.fnmr.as_ref().map_or("–".into(), pct),
        g.fnmr_identities_equal.as_ref().map_or("–".into(), pct),
    )
}

/// The Markdown table: one row per group, the overall row first; each combination's highest
/// group rate over its lowest below it.
pub fn table(r: &Report) -> String {
    let mut out = String::from(
        "| group | photos | not detected as a probe [95 %] | refused at enrolment [95 %] | FMR within the group \
         [95 %] (× overall) | FMR against other groups [95 %] | threshold for FMR target | FNMR per pair [95 %] | FNMR, \
         each person equal [95 %] |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    out.push_str(&row(&r.overall));
    for c in &r.combinations {
        for g in &c.groups {
            out.push_str(&row(g));
        }
    }
    out.push_str("\n| combination | FMR within: highest / lowest group | not detected | refused at enrolment | FNMR |\n|---|---|---|---|---|\n");
    for c in &r.combinations {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            c.columns.iter().map(|c| markdown_cell(c)).collect::<Vec<_>>().join(" × "),
            times(c.fmr_within_max_over_min),
            times(c.not_detected_max_over_min),
            times(c.enrol_refused_max_over_min),
            times(c.fnmr_max_over_min)
        ));
    }
    out
}
