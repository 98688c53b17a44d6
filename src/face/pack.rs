//! Model packs: a choice of one implementation per stage, plus the operating points measured here
//! for that choice. `MODEL_PACK` picks one (default `open`); DETECTOR_MODEL, LANDMARK_MODEL,
//! RECOGNIZER_MODEL and LIVENESS_MODELS override its files one by one.
//!
//! A threshold belongs to a detector and a recognizer together: alignment points from another
//! detector move every embedding a little. A pack's points apply when its own detector and
//! recognizer are loaded; any other combination runs on the recognizer profile's points (measured
//! with SCRFD det_500m), and says so.

use super::profile::OperatingPoint;

#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    pub name: &'static str,
    pub detector: &'static str,
    /// The landmark model the detector needs (BlazeFace: FaceMesh).
    pub landmarks: Option<&'static str>,
    pub recognizer: &'static str,
    pub liveness: &'static [&'static str],
    /// Thresholds measured for this detector and recognizer together, strictest first; empty: the
    /// recognizer profile's.
    pub points: &'static [OperatingPoint],
    /// The per-group error rates published for this pack (`faceauth fairness`), when measured.
    pub fairness: Option<FairnessReport>,
}

/// Where a pack's per-group error rates are published, on what data, and what they say in a line.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FairnessReport {
    pub report: &'static str,
    pub data: &'static str,
    pub summary: &'static str,
}

/// `make fairness` (docs/fairness.md): measured on the shared FairFace set with this pack.
const OPEN_FAIRNESS: FairnessReport = FairnessReport {
    report: "docs/fairness.md",
    data: "FairFace: 540 photos, 9 age groups x 2 genders, one person each (CC BY 4.0)",
    summary: "at 0.472: FMR 2.4e-3 over all ages; within infants (0-2) 12 %, within ages 3-9 7.5e-3, within each \
              age group of 10 or more at most 2.6e-3; women and men alike (1.04x); 4.1 % of photos not detected, \
              14.8 % refused at enrolment",
};

const MINIFASNET: &[&str] = &["2.7_80x80_MiniFASNetV2.onnx", "4_0_0_80x80_MiniFASNetV1SE.onnx"];

/// The calibration set behind the open pack's points: the 135 dev photos of 40 people and the 420
/// FairFace photos of people aged 10 or more (one person each), every pair compared with
/// `faceauth calibrate` (532 photos usable: 23 FairFace photos, full profiles mostly, have no face
/// the mesh accepts). Children under 10 are left out: the pairs of infants in FairFace match one
/// another far more often than adults do (at 1e-4 over every age the threshold would be 0.60, and
/// 13 % of the dev set's genuine pairs would fail); faceauth is not meant to authenticate them, and
/// their rates are reported by age group rather than folded into the operating point.
const DEV_AND_FAIRFACE: &str = "dev + FairFace aged 10+ here: 532 photos, 196 genuine and 141,582 impostor comparisons \
                                (faceauth calibrate, open pack)";
const DEV_AND_FAIRFACE_IMPOSTORS: u64 = 141_582;

pub static PACKS: [Pack; 3] = [
    Pack {
        name: "open",
        detector: "face_detection_short_range.onnx",
        landmarks: Some("face_landmark.onnx"),
        recognizer: "face_recognition_sface_2021dec_int8bq.onnx",
        liveness: MINIFASNET,
        points: OPEN_POINTS,
        fairness: Some(OPEN_FAIRNESS),
    },
    Pack {
        name: "buffalo_l",
        detector: "det_10g.onnx",
        landmarks: None,
        recognizer: "w600k_r50.onnx",
        liveness: MINIFASNET,
        points: &[],
        fairness: None,
    },
    Pack {
        name: "buffalo_s",
        detector: "det_500m.onnx",
        landmarks: None,
        recognizer: "w600k_mbf.onnx",
        liveness: MINIFASNET,
        points: &[],
        fairness: None,
    },
];

const OPEN_POINTS: &[OperatingPoint] = &[
    OperatingPoint {
        threshold: 0.4720,
        // FMR 9.9e-5 [5.4e-5, 1.7e-4]; FNMR 3 of 196 genuine pairs (1.5 % [0.3, 4.4]).
        false_matches: 14,
        impostors: DEV_AND_FAIRFACE_IMPOSTORS,
        fnmr: Some(0.0153),
        source: DEV_AND_FAIRFACE,
    },
    OperatingPoint {
        threshold: 0.3882,
        false_matches: 141,
        impostors: DEV_AND_FAIRFACE_IMPOSTORS,
        fnmr: Some(0.0),
        source: DEV_AND_FAIRFACE,
    },
];

impl Pack {
    pub fn by_name(name: &str) -> Option<&'static Pack> {
        PACKS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    pub fn names() -> String {
        PACKS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
    }

    /// This pack's measured points, when `detector` and `recognizer` (file names) are its own.
    pub fn points_for(&self, detector: &str, recognizer: &str) -> Option<&'static [OperatingPoint]> {
        (detector == self.detector && recognizer == self.recognizer && !self.points.is_empty()).then_some(self.points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::catalogue::card_of;

    #[test]
    fn the_open_pack_is_commercial_and_the_insightface_packs_are_not() {
        let open = Pack::by_name("open").unwrap();
        assert!(files(open).iter().all(|f| card_of(f).commercial_use), "{:?}", files(open));
        for name in ["buffalo_l", "buffalo_s"] {
            assert!(!files(Pack::by_name(name).unwrap()).iter().all(|f| card_of(f).commercial_use), "{name}");
        }
    }

    fn files(p: &Pack) -> Vec<&'static str> {
        let mut f = vec![p.detector, p.recognizer];
        f.extend(p.landmarks);
        f.extend(p.liveness);
        f
    }

    /// Every file a pack names has its card, in the stage the pack uses it for.
    #[test]
    fn every_file_of_every_pack_has_its_card() {
        use crate::face::catalogue::{CARDS, Stage, stage_of};
        for pack in &PACKS {
            for file in files(pack) {
                assert!(CARDS.iter().any(|c| c.file == file), "{}: {file} has no card", pack.name);
            }
            assert_eq!(stage_of(pack.detector), Some(Stage::Detector), "{}", pack.name);
            assert_eq!(stage_of(pack.recognizer), Some(Stage::Recognizer), "{}", pack.name);
            assert!(pack.landmarks.iter().all(|f| stage_of(f) == Some(Stage::Landmarks)), "{}", pack.name);
            assert!(pack.liveness.iter().all(|f| stage_of(f) == Some(Stage::Liveness)), "{}", pack.name);
        }
    }

    /// The README's packs table says what the cards say: each pack's row, commercial use as its
    /// files' cards allow it, and a measured pack's threshold at FMR 1e-4.
    #[test]
    fn the_readmes_packs_table_agrees_with_the_cards() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let section = readme.split("## Model packs").nth(1).expect("the README's packs section");
        for pack in &PACKS {
            let row = section
                .lines()
                .find(|l| l.starts_with(&format!("| `{}`", pack.name)))
                .unwrap_or_else(|| panic!("the README has no row for the {} pack", pack.name));
            let commercial = files(pack).iter().all(|f| card_of(f).commercial_use);
            assert_eq!(row.contains("commercial use permitted"), commercial, "{row}");
            assert_eq!(row.contains("non-commercial"), !commercial, "{row}");
            if !pack.points.is_empty() {
                let point = crate::face::profile::select_point(pack.points, "pack", 1e-4).unwrap();
                assert!(row.contains(&format!("{:.4}", point.threshold)), "{row}: its threshold");
            }
        }
    }

    #[test]
    fn a_packs_points_apply_only_to_its_own_detector_and_recognizer() {
        let open = Pack::by_name("OPEN").unwrap();
        assert!(open.points_for(open.detector, open.recognizer).is_some());
        assert!(open.points_for("det_500m.onnx", open.recognizer).is_none());
        assert!(open.points_for(open.detector, "arcface_mobilefacenet_128d.onnx").is_none());
        assert!(Pack::by_name("buffalo_l").unwrap().points_for("det_10g.onnx", "w600k_r50.onnx").is_none());
    }

    /// The default: MATCH_FMR 1e-4 on the open pack runs at the threshold measured for it.
    #[test]
    fn the_open_pack_runs_at_its_measured_point_for_1e_4() {
        use crate::face::profile::select_point;
        let open = Pack::by_name("open").unwrap();
        let point = select_point(open.points, "sface", 1e-4).unwrap();
        assert_eq!(point.threshold, 0.4720);
        assert!(point.fmr().unwrap() <= 1e-4);
        assert_eq!(select_point(open.points, "sface", 1e-3).unwrap().threshold, 0.3882);
    }
}
