//! One thread's complete pipeline: decode → detect → select → align → embed, with stage timings.

use std::path::PathBuf;
use std::time::Instant;

use image::RgbImage;
use serde::Serialize;

use super::align::norm_crop;
use super::decode::{DecodeError, decode_rgb};
use super::detect::{Detection, Detector, DetectorSettings};
use super::embed::{Embedding, Recognizer};
use super::liveness::{AntiSpoof, LivenessScore};
use super::policy::{FacePolicy, Purpose, Rejection};
use super::profile::ModelProfile;
use super::quality::{Quality, measure};
use super::runtime::{InferenceError, ModelError};

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The model failed on a valid image: a server fault, not the client's.
    #[error(transparent)]
    Inference(#[from] InferenceError),
}

/// A model file as loaded: the name users configure and the digest that pins its behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelId {
    pub name: String,
    pub sha256: String,
}

/// What was loaded, shared by every worker and reported by the API.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub detector: ModelId,
    pub recognizer: ModelId,
    pub profile: ModelProfile,
    pub threshold: f32,
}

/// Everything a worker needs to build its own engine.
#[derive(Debug, Clone)]
pub struct EngineSpec {
    pub detector_path: PathBuf,
    pub recognizer_path: PathBuf,
    pub profile: ModelProfile,
    pub detector: DetectorSettings,
    pub policy: FacePolicy,
    pub max_pixels: u64,
    pub intra_threads: usize,
    /// MiniFASNet files for passive liveness; empty: not scored.
    pub liveness: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct StageTimings {
    pub decode_ms: f64,
    pub detect_ms: f64,
    pub align_ms: f64,
    pub embed_ms: f64,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub embedding: Embedding,
    pub face: Detection,
    pub width: u32,
    pub height: u32,
    pub timings: StageTimings,
    /// Passive liveness of the subject, when the engine has the models and the photo is a probe.
    pub liveness: Option<LivenessScore>,
    /// The subject's capture quality (refused below the policy at enrolment).
    pub quality: Quality,
}

pub struct FaceEngine {
    detector: Detector,
    recognizer: Recognizer,
    anti_spoof: Option<AntiSpoof>,
    policy: FacePolicy,
    max_pixels: u64,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

impl FaceEngine {
    pub fn load(spec: &EngineSpec) -> Result<Self, ModelError> {
        Ok(Self {
            detector: Detector::load(&spec.detector_path, spec.intra_threads, spec.detector)?,
            recognizer: Recognizer::load(&spec.recognizer_path, spec.intra_threads, spec.profile.clone())?,
            anti_spoof: match spec.liveness.as_slice() {
                [] => None,
                paths => {
                    Some(AntiSpoof::load(&paths.iter().map(PathBuf::as_path).collect::<Vec<_>>(), spec.intra_threads)?)
                }
            },
            policy: spec.policy,
            max_pixels: spec.max_pixels,
        })
    }

    /// Runs both models once so the first real request does not pay for lazy initialisation, and
    /// proves they produce output of the expected shape.
    pub fn warm_up(&mut self) -> Result<(), InferenceError> {
        let blank = RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
        self.detector.detect(&blank)?;
        if let Some(anti_spoof) = &mut self.anti_spoof {
            anti_spoof.score(
                &blank,
                &Detection { bbox: [300.0, 200.0, 340.0, 250.0], score: 1.0, landmarks: [[0.0; 2]; 5] },
            )?;
        }
        self.recognizer.embed(&RgbImage::from_pixel(112, 112, image::Rgb([128, 100, 90]))).map(|_| ())
    }

    pub fn decode(&self, bytes: &[u8]) -> Result<RgbImage, DecodeError> {
        decode_rgb(bytes, self.max_pixels)
    }

    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<Detection>, FaceError> {
        Ok(self.detector.detect(image)?)
    }

    pub fn embed_face(&mut self, image: &RgbImage, face: &Detection) -> Result<(RgbImage, Embedding), FaceError> {
        let crop = norm_crop(image, &face.landmarks).ok_or(Rejection::NoFace)?;
        let embedding = self.recognizer.embed(&crop)?;
        Ok((crop, embedding))
    }

    /// The recognizer alone, on an already aligned 112x112 crop.
    pub fn embed_crop(&mut self, crop: &RgbImage) -> Result<Embedding, FaceError> {
        Ok(self.recognizer.embed(crop)?)
    }

    pub fn analyze(&mut self, bytes: &[u8], purpose: Purpose) -> Result<Analysis, FaceError> {
        let start = Instant::now();
        let image = self.decode(bytes)?;
        let decode_ms = ms(start);
        let mut analysis = self.analyze_image(&image, purpose)?;
        analysis.timings.decode_ms = decode_ms;
        Ok(analysis)
    }

    pub fn analyze_image(&mut self, image: &RgbImage, purpose: Purpose) -> Result<Analysis, FaceError> {
        let start = Instant::now();
        let faces = self.detect(image)?;
        let detect_ms = ms(start);
        let subject = self.policy.select(&faces, image.width(), image.height(), purpose)?;
        let face = faces[subject].clone();
        let quality = measure(image, &face);
        if purpose == Purpose::Enroll {
            self.policy.quality.check(&quality).map_err(Rejection::from)?;
        }
        let start = Instant::now();
        let crop = norm_crop(image, &face.landmarks).ok_or(Rejection::NoFace)?;
        let align_ms = ms(start);
        let start = Instant::now();
        let embedding = self.recognizer.embed(&crop)?;
        let embed_ms = ms(start);
        // Liveness is a property of a capture, asked of probes; references were checked at enrolment.
        let liveness = match (&mut self.anti_spoof, purpose) {
            (Some(anti_spoof), Purpose::Verify) => Some(anti_spoof.score(image, &face)?),
            _ => None,
        };
        Ok(Analysis {
            liveness,
            quality,
            embedding,
            face,
            width: image.width(),
            height: image.height(),
            timings: StageTimings { decode_ms: 0.0, detect_ms, align_ms, embed_ms },
        })
    }
}
