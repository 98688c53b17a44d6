//! One card per model file faceauth knows: its digest, the stage it implements, its licence and
//! whether it may be used commercially, what its training data means for a deployment, what it is
//! fed, and (a recognizer) the profile whose operating points were measured for it. Reported at
//! startup, by `faceauth check` and by `/ready`, so an operator knows what they are running before
//! a lawyer asks; the packs (`face/pack.rs`) and the README's packs table are tested against it.
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

/// One model file's card: everything faceauth knows about it, in one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelCard {
    /// The file's name (the fetch script checks its bytes, or a conversion's outputs).
    pub file: &'static str,
    pub stage: Stage,
    /// The model's name as its authors give it.
    pub model: &'static str,
    /// The SHA-256 of the file as fetched (`models/manifest.tsv`); `None` for a conversion, whose
    /// bytes differ from one converter run to the next and which is checked by its outputs instead.
    pub sha256: Option<&'static str>,
    /// SPDX identifier, or the licence's own words when it has none.
    pub licence: &'static str,
    pub commercial_use: bool,
    /// Where the weights were trained, and what that may mean.
    pub training_data: &'static str,
    /// What the model is fed: size, colour order, range.
    pub preprocessing: &'static str,
    /// A recognizer's profile (`face/profile.rs`): the preprocessing as numbers, and the operating
    /// points measured for it (a pack's own points, measured with its detector, are in `face/pack.rs`).
    pub profile: Option<&'static str>,
}

const INSIGHTFACE: &str = "InsightFace model zoo: non-commercial research purposes only";
const ALIGNED: &str = "the face warped to ArcFace's five points in 112×112";
const SCRFD_INPUT: &str = "the photo letterboxed into 640×640 (or the model's fixed size), RGB, (pixel − 127.5) / 128";
const MINIFASNET_INPUT: &str = "80×80 crops around the face (2.7× and 4× its box), BGR, CHW, 0–255";

/// A file faceauth does not know: a licence nobody checked permits nothing.
const UNKNOWN: ModelCard = ModelCard {
    file: "",
    stage: Stage::Detector,
    model: "unknown model",
    sha256: None,
    licence: "unknown: not a file faceauth knows; check its licence yourself",
    commercial_use: false,
    training_data: "unknown",
    preprocessing: "unknown",
    profile: None,
};

/// Every card. Files are matched by name: the MediaPipe conversions differ in bytes from one
/// tf2onnx run to the next, and the fetch script has already checked each file's digest (or, for
/// conversions, its outputs) against `models/manifest.tsv`; a test holds these digests to it.
pub const CARDS: &[ModelCard] = &[
    ModelCard {
        file: "face_detection_short_range.onnx",
        stage: Stage::Detector,
        model: "MediaPipe BlazeFace short-range",
        sha256: None,
        licence: "Apache-2.0",
        commercial_use: true,
        training_data: "Google's own data (MediaPipe model card); selfie range, faces within about 2 m",
        preprocessing: "the photo letterboxed into 128×128, RGB, pixel / 127.5 − 1",
        profile: None,
    },
    ModelCard {
        file: "face_landmark.onnx",
        stage: Stage::Landmarks,
        model: "MediaPipe FaceMesh (468 points)",
        sha256: None,
        licence: "Apache-2.0",
        commercial_use: true,
        training_data: "Google's own data (MediaPipe model card)",
        preprocessing: "the face's region (1.5× its box, turned level by the eyes) in 192×192, RGB, pixel / 255",
        profile: None,
    },
    ModelCard {
        file: "face_recognition_sface_2021dec_int8bq.onnx",
        stage: Stage::Recognizer,
        model: "OpenCV Zoo SFace (int8, block-quantised)",
        sha256: Some("fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"),
        licence: "Apache-2.0",
        commercial_use: true,
        training_data: "not stated by OpenCV Zoo: a MobileFaceNet trained with the SFace loss (Zhong et al. 2021, whose \
                        experiments use CASIA-WebFace, VGGFace2 and MS1MV2, datasets of public figures' photos); \
                        review before relying on it",
        preprocessing: ALIGNED,
        profile: Some("sface"),
    },
    ModelCard {
        file: "arcface_mobilefacenet_128d.onnx",
        stage: Stage::Recognizer,
        model: "MobileFaceNet, ArcFace loss (foamliu/MobileFaceNet)",
        sha256: Some("e8e15de7b894f917ecc7f068dbe12d7c00e79c9c4a7414538d8de2dcb76d6458"),
        licence: "Apache-2.0",
        commercial_use: true,
        training_data: "MS-Celeb-1M (refined), a dataset Microsoft withdrew in 2019; review before relying on it",
        preprocessing: ALIGNED,
        profile: Some("arcface_mobilefacenet_128d"),
    },
    ModelCard {
        file: "2.7_80x80_MiniFASNetV2.onnx",
        stage: Stage::Liveness,
        model: "MiniFASNet V2 (Silent-Face-Anti-Spoofing)",
        sha256: Some("7886c41bcbcc1be00cf8700eddbd8cbd4b1ad138e69010790de2a57a3b01d7e5"),
        licence: "MIT",
        commercial_use: true,
        training_data: "minivision's own data",
        preprocessing: MINIFASNET_INPUT,
        profile: None,
    },
    ModelCard {
        file: "4_0_0_80x80_MiniFASNetV1SE.onnx",
        stage: Stage::Liveness,
        model: "MiniFASNet V1SE (Silent-Face-Anti-Spoofing)",
        sha256: Some("e67aedf72df3e1912dbf6baa5f7406b8b30c3cb43234170a70dd9d143fea358e"),
        licence: "MIT",
        commercial_use: true,
        training_data: "minivision's own data",
        preprocessing: MINIFASNET_INPUT,
        profile: None,
    },
    ModelCard {
        file: "det_10g.onnx",
        stage: Stage::Detector,
        model: "InsightFace SCRFD-10GF",
        sha256: Some("5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91"),
        licence: INSIGHTFACE,
        commercial_use: false,
        training_data: "WIDER FACE",
        preprocessing: SCRFD_INPUT,
        profile: None,
    },
    ModelCard {
        file: "det_2.5g.onnx",
        stage: Stage::Detector,
        model: "InsightFace SCRFD-2.5GF",
        sha256: Some("041f73f47371333d1d17a6fee6c8ab4e6aecabefe398ff32cca4e2d5eaee0af9"),
        licence: INSIGHTFACE,
        commercial_use: false,
        training_data: "WIDER FACE",
        preprocessing: SCRFD_INPUT,
        profile: None,
    },
    ModelCard {
        file: "det_500m.onnx",
        stage: Stage::Detector,
        model: "InsightFace SCRFD-500MF",
        sha256: Some("5e4447f50245bbd7966bd6c0fa52938c61474a04ec7def48753668a9d8b4ea3a"),
        licence: INSIGHTFACE,
        commercial_use: false,
        training_data: "WIDER FACE",
        preprocessing: SCRFD_INPUT,
        profile: None,
    },
    ModelCard {
        file: "w600k_r50.onnx",
        stage: Stage::Recognizer,
        model: "InsightFace ArcFace R50 (buffalo_l)",
        sha256: Some("4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43"),
        licence: INSIGHTFACE,
        commercial_use: false,
        training_data: "WebFace600K",
        preprocessing: ALIGNED,
        profile: Some("w600k_r50"),
    },
    ModelCard {
        file: "w600k_mbf.onnx",
        stage: Stage::Recognizer,
        model: "InsightFace ArcFace MobileFaceNet (buffalo_s)",
        sha256: Some("9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f"),
        licence: INSIGHTFACE,
        commercial_use: false,
        training_data: "WebFace600K",
        preprocessing: ALIGNED,
        profile: Some("w600k_mbf"),
    },
];

/// A model file as loaded, for the startup log, `faceauth check` and `/ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedModel {
    pub stage: Stage,
    pub file: String,
    /// The loaded file's own digest (a rewrite is served only for these very bytes).
    pub sha256: String,
    pub card: ModelCard,
}

/// The card of the file named `file` (its last path component), or one that permits nothing.
pub fn card_of(file: &str) -> ModelCard {
    CARDS.iter().find(|c| c.file == file).cloned().unwrap_or(UNKNOWN)
}

/// The stage a known file implements.
pub fn stage_of(file: &str) -> Option<Stage> {
    CARDS.iter().find(|c| c.file == file).map(|c| c.stage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::ModelProfile;

    #[test]
    fn insightface_files_are_not_for_commercial_use_and_the_open_pack_is() {
        for file in ["det_10g.onnx", "w600k_r50.onnx", "det_500m.onnx", "det_2.5g.onnx"] {
            assert!(!card_of(file).commercial_use, "{file}");
            assert!(card_of(file).licence.contains("non-commercial"), "{file}");
        }
        for file in
            ["face_detection_short_range.onnx", "face_landmark.onnx", "face_recognition_sface_2021dec_int8bq.onnx"]
        {
            assert_eq!(card_of(file).licence, "Apache-2.0", "{file}");
            assert!(card_of(file).commercial_use);
        }
    }

    #[test]
    fn an_unknown_file_permits_nothing() {
        let c = card_of("my_model.onnx");
        assert!(!c.commercial_use);
        assert!(c.licence.starts_with("unknown"));
        assert_eq!(stage_of("my_model.onnx"), None);
        assert_eq!(stage_of("face_landmark.onnx"), Some(Stage::Landmarks));
    }

    /// The digests are the manifest's (what the fetch script checks), and a recognizer's profile
    /// is the one the service picks for those bytes: one set of facts, keyed once.
    #[test]
    fn every_card_agrees_with_the_manifest_and_its_recognizer_profile() {
        let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/manifest.tsv")).unwrap();
        let pinned: std::collections::HashMap<&str, (&str, &str)> = manifest
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                Some((*f.first()?, (*f.get(2)?, *f.get(3)?)))
            })
            .collect();
        for card in CARDS {
            let (sha256, source) =
                pinned.get(card.file).unwrap_or_else(|| panic!("{} is not in the manifest", card.file));
            match card.sha256 {
                Some(own) => assert_eq!(own, *sha256, "{}", card.file),
                None => {
                    assert!(source.starts_with("convert:"), "{}: only a conversion goes without a digest", card.file)
                }
            }
            assert_eq!(card.profile.is_some(), card.stage == Stage::Recognizer, "{}", card.file);
            if let Some(name) = card.profile {
                let profile = ModelProfile::by_name(name).unwrap_or_else(|| panic!("{name}: no such profile"));
                assert_eq!(Some(profile.sha256), card.sha256, "{}: the profile picked for its bytes", card.file);
                assert!(!profile.points.is_empty(), "{}: its operating points", card.file);
            }
        }
    }
}
