//! Per-model preprocessing and operating point for recognizers.
//!
//! Recognizers disagree on colour order and normalisation; feeding one another's input silently
//! ruins accuracy rather than failing. A profile is picked by the model file's sha256, or by name
//! from configuration for files we have not pinned.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorOrder {
    Rgb,
    Bgr,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelProfile {
    pub name: &'static str,
    pub color: ColorOrder,
    /// Input = (pixel · `scale` − `mean`) / `std`, per channel in the model's colour order.
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub embedding_dim: usize,
    /// Cosine similarity at or above which two faces are taken as the same person.
    pub threshold: f32,
    /// The false-match rate measured at `threshold` on the dev photos (`faceauth calibrate`,
    /// 8,849 impostor pairs, default pipeline); `None` where it could not be measured here.
    pub measured_fmr: Option<f64>,
    pub sha256: &'static str,
}

impl ModelProfile {
    /// Per-channel `(gain, offset)` so that input = pixel · gain + offset.
    pub fn affine(&self) -> [(f32, f32); 3] {
        std::array::from_fn(|c| (self.scale / self.std[c], -self.mean[c] / self.std[c]))
    }

    pub fn builtin() -> &'static [ModelProfile] {
        &BUILTIN
    }

    pub fn by_name(name: &str) -> Option<&'static ModelProfile> {
        BUILTIN.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    pub fn by_sha256(sha256: &str) -> Option<&'static ModelProfile> {
        BUILTIN.iter().find(|p| p.sha256.eq_ignore_ascii_case(sha256))
    }
}

const INSIGHTFACE_MEAN: [f32; 3] = [127.5; 3];
const INSIGHTFACE_STD: [f32; 3] = [127.5; 3];

static BUILTIN: [ModelProfile; 4] = [
    // buffalo_l: the production default. 0.30 is not measured here (the file cannot be brought onto
    // these machines); it is the cosine operating point commonly used with w600k_r50, to be confirmed
    // on the deployment's own data.
    ModelProfile {
        name: "w600k_r50",
        color: ColorOrder::Rgb,
        scale: 1.0,
        mean: INSIGHTFACE_MEAN,
        std: INSIGHTFACE_STD,
        embedding_dim: 512,
        threshold: 0.30,
        measured_fmr: None,
        sha256: "4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43",
    },
    ModelProfile {
        name: "w600k_mbf",
        color: ColorOrder::Rgb,
        scale: 1.0,
        mean: INSIGHTFACE_MEAN,
        std: INSIGHTFACE_STD,
        embedding_dim: 512,
        threshold: 0.30,
        measured_fmr: None,
        sha256: "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
    },
    // foamliu/MobileFaceNet: x/255 then ImageNet statistics. 0.35 keeps every dev genuine pair
    // (FRR 0/195) at FAR 16/8716 in the reference pipeline (shared/faces/reference/README.md).
    ModelProfile {
        name: "arcface_mobilefacenet_128d",
        color: ColorOrder::Rgb,
        scale: 1.0 / 255.0,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        embedding_dim: 128,
        threshold: 0.35,
        // 14 of 8,849 dev impostor pairs with the default (adaptive) pipeline, FNMR 0 of 196
        // (`faceauth calibrate`; the reference pipeline: 16 of 8,716).
        measured_fmr: Some(14.0 / 8849.0),
        sha256: "e8e15de7b894f917ecc7f068dbe12d7c00e79c9c4a7414538d8de2dcb76d6458",
    },
    // OpenCV Zoo SFace takes raw 0-255 RGB; 0.363 is OpenCV's documented cosine threshold
    // (opencv_zoo models/face_recognition_sface/README.md).
    ModelProfile {
        name: "sface",
        color: ColorOrder::Rgb,
        scale: 1.0,
        mean: [0.0; 3],
        std: [1.0; 3],
        embedding_dim: 128,
        threshold: 0.363,
        // 16 of 8,849 dev impostor pairs with the default (adaptive) pipeline, FNMR 0 of 196
        // (`faceauth calibrate`; the reference pipeline: 15 of 8,716).
        measured_fmr: Some(16.0 / 8849.0),
        sha256: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_found_by_sha_and_name() {
        let p = ModelProfile::by_sha256("E8E15DE7B894F917ECC7F068DBE12D7C00E79C9C4A7414538D8DE2DCB76D6458").unwrap();
        assert_eq!(p.name, "arcface_mobilefacenet_128d");
        assert_eq!(ModelProfile::by_name("SFACE").unwrap().embedding_dim, 128);
        assert!(ModelProfile::by_name("nope").is_none());
    }

    #[test]
    fn affine_reproduces_each_normalisation() {
        let insight = ModelProfile::by_name("w600k_r50").unwrap().affine();
        assert!((255.0 * insight[0].0 + insight[0].1 - 1.0).abs() < 1e-6);
        let imagenet = ModelProfile::by_name("arcface_mobilefacenet_128d").unwrap().affine();
        let want = (128.0 / 255.0 - 0.456) / 0.224;
        assert!((128.0 * imagenet[1].0 + imagenet[1].1 - want).abs() < 1e-5);
        assert_eq!(ModelProfile::by_name("sface").unwrap().affine()[2], (1.0, 0.0));
    }
}
