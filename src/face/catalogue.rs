//! The model files faceauth knows: which stage each implements, its licence, whether it may be used
//! commercially, and what its training data means for a deployment. Reported at startup, by
//! `faceauth check` and by `/ready`, so an operator knows what they are running before a lawyer asks.
//!
//! Sources: `models/README.md` and the upstream licence files named there. A file faceauth does not
//! know is reported with an unknown licence and `commercial_use: false`: a licence nobody checked
//! does not permit anything.

use serde::Serialize;

/// A stage of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Detector,
    Landmarks,
    Recognizer,
    Liveness,
}

/// What is known about one model file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Licence {
    /// The model's name as its authors give it.
    pub model: &'static str,
    /// SPDX identifier, or the licence's own words when it has none.
    pub licence: &'static str,
    pub commercial_use: bool,
    /// Where the weights were trained, and what that may mean.
    pub training_data: &'static str,
}

const INSIGHTFACE: &str = "InsightFace model zoo: non-commercial research purposes only";
const UNKNOWN: Licence = Licence {
    model: "unknown model",
    licence: "unknown: not a file faceauth knows; check its licence yourself",
    commercial_use: false,
    training_data: "unknown",
};

/// (file name, stage, what is known). Files are matched by name: the MediaPipe conversions differ
/// in bytes from one tf2onnx run to the next, and the fetch script has already checked each file's
/// digest (or, for conversions, its outputs) against `models/manifest.tsv`.
const KNOWN: &[(&str, Stage, Licence)] = &[
    (
        "face_detection_short_range.onnx",
        Stage::Detector,
        Licence {
            model: "MediaPipe BlazeFace short-range",
            licence: "Apache-2.0",
            commercial_use: true,
            training_data: "Google's own data (MediaPipe model card); selfie range, faces within about 2 m",
        },
    ),
    (
        "face_landmark.onnx",
        Stage::Landmarks,
        Licence {
            model: "MediaPipe FaceMesh (468 points)",
            licence: "Apache-2.0",
            commercial_use: true,
            training_data: "Google's own data (MediaPipe model card)",
        },
    ),
    (
        "face_recognition_sface_2021dec_int8bq.onnx",
        Stage::Recognizer,
        Licence {
            model: "OpenCV Zoo SFace (int8, block-quantised)",
            licence: "Apache-2.0",
            commercial_use: true,
            training_data: "not stated by OpenCV Zoo: a MobileFaceNet trained with the SFace loss (Zhong et al. 2021, whose \
                            experiments use CASIA-WebFace, VGGFace2 and MS1MV2, datasets of public figures' photos); \
                            review before relying on it",
        },
    ),
    (
        "arcface_mobilefacenet_128d.onnx",
        Stage::Recognizer,
        Licence {
            model: "MobileFaceNet, ArcFace loss (foamliu/MobileFaceNet)",
            licence: "Apache-2.0",
            commercial_use: true,
            training_data: "MS-Celeb-1M (refined), a dataset Microsoft withdrew in 2019; review before relying on it",
        },
    ),
    (
        "2.7_80x80_MiniFASNetV2.onnx",
        Stage::Liveness,
        Licence {
            model: "MiniFASNet V2 (Silent-Face-Anti-Spoofing)",
            licence: "MIT",
            commercial_use: true,
            training_data: "minivision's own data",
        },
    ),
    (
        "4_0_0_80x80_MiniFASNetV1SE.onnx",
        Stage::Liveness,
        Licence {
            model: "MiniFASNet V1SE (Silent-Face-Anti-Spoofing)",
            licence: "MIT",
            commercial_use: true,
            training_data: "minivision's own data",
        },
    ),
    (
        "det_10g.onnx",
        Stage::Detector,
        Licence {
            model: "InsightFace SCRFD-10GF",
            licence: INSIGHTFACE,
            commercial_use: false,
            training_data: "WIDER FACE",
        },
    ),
    (
        "det_2.5g.onnx",
        Stage::Detector,
        Licence {
            model: "InsightFace SCRFD-2.5GF",
            licence: INSIGHTFACE,
            commercial_use: false,
            training_data: "WIDER FACE",
        },
    ),
    (
        "det_500m.onnx",
        Stage::Detector,
        Licence {
            model: "InsightFace SCRFD-500MF",
            licence: INSIGHTFACE,
            commercial_use: false,
            training_data: "WIDER FACE",
        },
    ),
    (
        "w600k_r50.onnx",
        Stage::Recognizer,
        Licence {
            model: "InsightFace ArcFace R50 (buffalo_l)",
            licence: INSIGHTFACE,
            commercial_use: false,
            training_data: "WebFace600K",
        },
    ),
    (
        "w600k_mbf.onnx",
        Stage::Recognizer,
        Licence {
            model: "InsightFace ArcFace MobileFaceNet (buffalo_s)",
            licence: INSIGHTFACE,
            commercial_use: false,
            training_data: "WebFace600K",
        },
    ),
];

/// A model file as loaded, for the startup log, `faceauth check` and `/ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedModel {
    pub stage: Stage,
    pub file: String,
    pub sha256: String,
    pub licence: Licence,
}

/// What is known about the file named `file` (its last path component), or an unknown licence.
pub fn licence_of(file: &str) -> Licence {
    KNOWN.iter().find(|(name, _, _)| *name == file).map(|(_, _, l)| l.clone()).unwrap_or(UNKNOWN)
}

/// The stage a known file implements.
pub fn stage_of(file: &str) -> Option<Stage> {
    KNOWN.iter().find(|(name, _, _)| *name == file).map(|(_, stage, _)| *stage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insightface_files_are_not_for_commercial_use_and_the_open_pack_is() {
        for file in ["det_10g.onnx", "w600k_r50.onnx", "det_500m.onnx", "det_2.5g.onnx"] {
            assert!(!licence_of(file).commercial_use, "{file}");
            assert!(licence_of(file).licence.contains("non-commercial"), "{file}");
        }
        for file in
            ["face_detection_short_range.onnx", "face_landmark.onnx", "face_recognition_sface_2021dec_int8bq.onnx"]
        {
            assert_eq!(licence_of(file).licence, "Apache-2.0", "{file}");
            assert!(licence_of(file).commercial_use);
        }
    }

    #[test]
    fn an_unknown_file_permits_nothing() {
        let l = licence_of("my_model.onnx");
        assert!(!l.commercial_use);
        assert!(l.licence.starts_with("unknown"));
        assert_eq!(stage_of("my_model.onnx"), None);
        assert_eq!(stage_of("face_landmark.onnx"), Some(Stage::Landmarks));
    }
}
