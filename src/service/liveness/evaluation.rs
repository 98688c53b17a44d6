//! Liveness measured as ISO/IEC 30107-3 counts it, on labelled captures: each capture is a bona fide
//! presentation or an attack of one kind (a presentation attack instrument species: `print`,
//! `screen`, `replay`, `mask`, …). BPCER is the share of bona fide captures refused; APCER, per
//! kind, the share of attacks accepted; the worst kind's APCER is the headline (30107-3 §13.2,
//! "APCER_AP" as the maximum over species). Each rate carries its exact 95 % interval
//! (Clopper–Pearson), so a handful of captures says how little it shows.
//!
//! Besides the rates: which check refused each attack, and for the thresholds an operator may
//! tune (the planarity check's parallax, the light check's correlation and face-to-surround
//! contrast), the value a target BPCER would need on this material, with how many attacks that
//! value alone would still refuse — as `faceauth calibrate` does for the match threshold.

use std::collections::BTreeMap;

use serde::Serialize;

use super::light::{LightResponse, MIN_CONTRAST, MIN_CORRELATION};
use crate::calibration::interval::{Rate, clopper_pearson};

/// The label of a genuine presentation; every other label is an attack kind.
pub const BONA_FIDE: &str = "bona_fide";

/// The check of the deployed liveness that refused a capture (the order `judge` runs them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// A frame the pipeline could not use (no face, two faces, unreadable).
    Frames,
    /// Timing and continuity: one capture at a camera's pace, without jumps or repeats.
    Capture,
    /// The prompted moves, in order, in time.
    Pose,
    /// A head, not a flat picture.
    Planarity,
    /// One person throughout.
    Identity,
    /// The screen's colours on the face.
    Light,
    /// The passive model's P(real).
    Passive,
    /// A photo seen before (not run by the evaluation: it has no replay memory).
    Replay,
}

/// One capture's outcome and the measurements behind the tunable checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    pub name: String,
    pub label: String,
    /// The check that refused it and the code the API would have answered; none when accepted.
    pub refused: Option<(Check, &'static str)>,
    /// The largest parallax over the prompted moves (eye distances), where measurable.
    pub parallax: Option<f32>,
    /// How the face followed the plan's colours, where the plan had some and it was measurable.
    pub light: Option<LightResponse>,
    /// How the light's balance over the face followed its pose, where measurable.
    pub shading: Option<f32>,
}

/// A kind of presentation and how the checks answered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindReport {
    pub kind: String,
    /// BPCER for bona fide presentations (refused), APCER for an attack kind (accepted).
    pub error_rate: Rate,
    pub refused_by: BTreeMap<Check, usize>,
    /// Codes answered, as a client would have seen them.
    pub codes: BTreeMap<&'static str, usize>,
}

/// The value one measure's threshold would need for a target BPCER on this material.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Needed {
    pub measure: &'static str,
    pub configured: f32,
    pub target_bpcer: f64,
    /// None: no bona fide capture had this measure.
    pub value: Option<f32>,
    pub bona_fide_measured: usize,
    /// Attacks with this measure, and how many of them the value alone would refuse.
    pub attacks_measured: usize,
    pub attacks_refused: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub captures: usize,
    pub bpcer: Option<KindReport>,
    pub apcer: Vec<KindReport>,
    /// The highest APCER over the attack kinds (ISO/IEC 30107-3's APCER_AP).
    pub apcer_worst: Option<Rate>,
    pub thresholds: Vec<Needed>,
}

type Reading = fn(&Evaluated) -> Option<f32>;

/// The measures an operator may tune, each read from a capture where it was measured: its name, the
/// configured limit, and the value (a capture passes the measure at or above the limit).
fn measures(min_parallax: f32, min_shading: f32) -> [(&'static str, f32, Reading); 4] {
    [
        ("parallax", min_parallax, |e| e.parallax),
        ("light_correlation", MIN_CORRELATION, |e| e.light.map(|l| l.correlation)),
        // The face's response over the surround's; a surround that does not respond at all is
        // counted as far above any limit.
        ("light_contrast", MIN_CONTRAST, |e| {
            e.light.map(|l| if l.surround > 0.0 { l.face / l.surround } else { f32::MAX })
        }),
        ("light_shading", min_shading, |e| e.shading),
    ]
}

/// The rates and thresholds over `captures`, for a `target_bpcer` (e.g. 0.01).
pub fn report(captures: &[Evaluated], min_parallax: f32, min_shading: f32, target_bpcer: f64) -> Report {
    let mut kinds: BTreeMap<&str, Vec<&Evaluated>> = BTreeMap::new();
    for c in captures {
        kinds.entry(c.label.as_str()).or_default().push(c);
    }
    let kind_report = |kind: &str, members: &[&Evaluated]| {
        let genuine = kind == BONA_FIDE;
        let errors = members.iter().filter(|c| c.refused.is_some() == genuine).count();
        let mut refused_by = BTreeMap::new();
        let mut codes = BTreeMap::new();
        for (check, code) in members.iter().filter_map(|c| c.refused) {
            *refused_by.entry(check).or_default() += 1;
            *codes.entry(code).or_default() += 1;
        }
        KindReport { kind: kind.to_string(), error_rate: clopper_pearson(errors, members.len()), refused_by, codes }
    };
    let bpcer = kinds.get(BONA_FIDE).map(|m| kind_report(BONA_FIDE, m));
    let apcer: Vec<KindReport> =
        kinds.iter().filter(|(k, _)| **k != BONA_FIDE).map(|(k, m)| kind_report(k, m)).collect();
    let apcer_worst = apcer.iter().map(|k| k.error_rate).max_by(|a, b| a.value.total_cmp(&b.value));
    let thresholds = measures(min_parallax, min_shading)
        .into_iter()
        .map(|(measure, configured, read)| {
            let mut genuine: Vec<f32> = captures.iter().filter(|c| c.label == BONA_FIDE).filter_map(read).collect();
            genuine.sort_by(f32::total_cmp);
            // Values strictly under the limit fail: the k-th lowest lets k bona fide captures fail.
            let allowed = (target_bpcer * genuine.len() as f64).floor() as usize;
            let value = genuine.get(allowed.min(genuine.len().saturating_sub(1))).copied();
            let attacks: Vec<f32> = captures.iter().filter(|c| c.label != BONA_FIDE).filter_map(read).collect();
            Needed {
                measure,
                configured,
                target_bpcer,
                value,
                bona_fide_measured: genuine.len(),
                attacks_measured: attacks.len(),
                attacks_refused: value.map_or(0, |v| attacks.iter().filter(|&&a| a < v).count()),
            }
        })
        .collect();
    Report { captures: captures.len(), bpcer, apcer, apcer_worst, thresholds }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(label: &str, refused: Option<(Check, &'static str)>, parallax: f32) -> Evaluated {
        Evaluated {
            name: String::new(),
            label: label.into(),
            refused,
            parallax: Some(parallax),
            light: None,
            shading: None,
        }
    }

    #[test]
    fn bona_fide_errors_are_refusals_and_attack_errors_are_acceptances() {
        let captures = [
            capture(BONA_FIDE, None, 0.05),
            capture(BONA_FIDE, Some((Check::Light, "light_not_followed")), 0.03),
            capture("print", Some((Check::Pose, "pose_mismatch")), 0.01),
            capture("print", Some((Check::Planarity, "capture_flat")), 0.02),
            capture("replay", None, 0.06),
        ];
        let report = report(&captures, 0.025, 0.3, 0.0);
        let bpcer = report.bpcer.unwrap();
        assert_eq!((bpcer.error_rate.errors, bpcer.error_rate.trials), (1, 2));
        assert_eq!(bpcer.refused_by[&Check::Light], 1);
        let print = &report.apcer[0];
        assert_eq!((print.kind.as_str(), print.error_rate.errors, print.error_rate.trials), ("print", 0, 2));
        assert_eq!(print.codes[&"capture_flat"], 1);
        let replay = &report.apcer[1];
        assert_eq!((replay.error_rate.errors, replay.error_rate.trials), (1, 1));
        assert_eq!(report.apcer_worst.unwrap().value, 1.0);
        // No bona fide capture may fail the parallax alone: the limit is the lowest genuine value,
        // which both prints (and no replay) fall under.
        let parallax = &report.thresholds[0];
        assert_eq!((parallax.value, parallax.attacks_refused, parallax.attacks_measured), (Some(0.03), 2, 3));
        assert_eq!(report.thresholds[1].value, None);
    }

    #[test]
    fn a_target_bpcer_lets_that_share_of_bona_fide_captures_fail_the_measure() {
        let captures: Vec<Evaluated> = (1..=10).map(|i| capture(BONA_FIDE, None, i as f32 / 100.0)).collect();
        assert_eq!(report(&captures, 0.025, 0.3, 0.1).thresholds[0].value, Some(0.02));
        assert_eq!(report(&captures, 0.025, 0.3, 0.05).thresholds[0].value, Some(0.01));
    }
}
