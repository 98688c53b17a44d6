//! One thread's complete pipeline: decode → detect → select → align → embed, with stage timings.

use std::path::PathBuf;
use std::time::Instant;

use image::RgbImage;

use super::align::norm_crop;
use super::decode::{DecodeError, Decoded, Scans, decode_reduced, decode_rgb};
use super::detect::{Detection, Detector};
use super::embed::{Embedding, Lane, Recognizer};
use super::fingerprint::Fingerprint;
use super::frame::{CaptureFrame, FrameWork, Identity, StageTimings};
use super::light::LightSample;
use super::liveness::AntiSpoof;
use super::policy::{FacePolicy, Purpose, Rejection};
use super::quality::{Quality, measure};
use super::resolution::{DETAIL_SCALE, PRECISE_FACE, PipelineMode, detail_side, passes, refine_region};
use super::runtime::{InferenceError, ModelError};

mod analysis;
mod loaded;
mod spec;

pub use analysis::Analysis;
pub use loaded::{ModelId, ModelInfo};
pub use spec::EngineSpec;

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

/// The subject found, in the photo's pixels and in the decoded image's.
struct Located {
    face: Detection,
    local: Detection,
    image: RgbImage,
    width: u32,
    height: u32,
    quality: Quality,
    light: Option<LightSample>,
    timings: StageTimings,
}

pub struct FaceEngine {
    detector: Detector,
    recognizer: Recognizer,
    anti_spoof: Option<AntiSpoof>,
    policy: FacePolicy,
    max_pixels: u64,
    mode: PipelineMode,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

impl FaceEngine {
    pub fn load(spec: &EngineSpec) -> Result<Self, ModelError> {
        Ok(Self {
            detector: Detector::load(
                &spec.detector_path,
                Some(&spec.landmark_path),
                spec.intra_threads,
                spec.detector,
            )?,
            recognizer: Recognizer::load(&spec.recognizer_path, spec.intra_threads, spec.profile.clone())?,
            anti_spoof: match spec.liveness.as_slice() {
                [] => None,
                paths => Some(AntiSpoof::load(&paths.iter().map(PathBuf::as_path).collect::<Vec<_>>())?),
            },
            policy: spec.policy,
            max_pixels: spec.max_pixels,
            mode: spec.mode,
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
                &Detection {
                    bbox: [300.0, 200.0, 340.0, 250.0],
                    score: 1.0,
                    landmarks: [[0.0; 2]; 5],
                    pose: None,
                    shape: None,
                },
            )?;
        }
        let grey = RgbImage::from_pixel(112, 112, image::Rgb([128, 100, 90]));
        self.recognizer.embed_on(&grey, Lane::Own)?;
        self.recognizer.embed(&grey).map(|_| ())
    }

    pub fn decode(&self, bytes: &[u8]) -> Result<RgbImage, DecodeError> {
        decode_rgb(bytes, self.max_pixels)
    }

    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<Detection>, FaceError> {
        Ok(self.detector.detect(image)?)
    }

    /// The detector on a canvas of the caller's choosing (benchmarks, tools).
    pub fn detect_at(&mut self, image: &RgbImage, canvas: (u32, u32)) -> Result<Vec<Detection>, FaceError> {
        Ok(self.detector.detect_at(image, canvas)?)
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

    /// Every face in the image, in the mode's way: the reference's one canvas, or the adaptive
    /// [`passes`] until one finds a face. With the faces from the coarse pass comes its scale (canvas
    /// pixels per image pixel).
    fn find_faces(&mut self, image: &RgbImage) -> Result<(Vec<Detection>, Option<f32>), FaceError> {
        if self.mode == PipelineMode::Reference {
            return Ok((self.detect(image)?, None));
        }
        let ([first, second], coarse) = passes(image.width(), image.height(), self.detector.max_side());
        let faces = self.detector.detect_at(image, first)?;
        if !faces.is_empty() {
            let scale = (first.0 as f32 / image.width() as f32).min(first.1 as f32 / image.height() as f32);
            return Ok((faces, coarse.then_some(scale)));
        }
        Ok((self.detector.detect_at(image, second)?, None))
    }

    /// A face found small on the coarse canvas, located again in a region around it at a finer
    /// scale, so the landmarks the alignment uses come from a face of about [`PRECISE_FACE`] px. The
    /// detection nearest the coarse one wins; when the region yields none, the coarse face stands.
    fn refine(&mut self, image: &RgbImage, coarse: Detection, scale: f32) -> Result<Detection, FaceError> {
        let size = (coarse.bbox[2] - coarse.bbox[0]).max(coarse.bbox[3] - coarse.bbox[1]);
        if size * scale >= PRECISE_FACE {
            return Ok(coarse);
        }
        let (region, canvas) = refine_region(coarse.bbox, image.width(), image.height());
        let centre = |d: &Detection| ((d.bbox[0] + d.bbox[2]) / 2.0, (d.bbox[1] + d.bbox[3]) / 2.0);
        let (cx, cy) = centre(&coarse);
        let distance = |d: &Detection| {
            let (x, y) = centre(d);
            (x - cx).powi(2) + (y - cy).powi(2)
        };
        let found = self.detector.detect_region(image, region, canvas)?;
        let nearest = found.into_iter().min_by(|a, b| distance(a).total_cmp(&distance(b)));
        // A different face next to the subject is not a refinement of it.
        Ok(nearest.filter(|d| distance(d).sqrt() < size / 2.0).unwrap_or(coarse))
    }

    /// The longer side the first decode needs: three quarters of the canvas, so a photo a little
    /// short of it after a DCT reduction (2500 px / 4 = 625) is not decoded at twice the size only
    /// to be shrunk again. Passive liveness is scored on the full photo: the MiniFASNet thresholds
    /// were validated on full decodes.
    fn decode_side(&self, purpose: Purpose) -> u32 {
        let scores_liveness = purpose != Purpose::Enroll && self.anti_spoof.is_some();
        match self.mode {
            PipelineMode::Adaptive if !scores_liveness => self.detector.max_side() * 3 / 4,
            _ => u32::MAX,
        }
    }

    pub fn analyze(&mut self, bytes: &[u8], purpose: Purpose) -> Result<Analysis, FaceError> {
        let start = Instant::now();
        let decoded = decode_reduced(bytes, self.max_pixels, self.decode_side(purpose), Scans::SkipAcRefinements)?;
        let decode_ms = ms(start);
        let mut analysis = self.analyze_decoded(decoded, Some(bytes), purpose)?;
        analysis.timings.decode_ms += decode_ms;
        Ok(analysis)
    }

    /// The pipeline on an already decoded photo (the CLI's tools, benchmarks).
    pub fn analyze_image(&mut self, image: &RgbImage, purpose: Purpose) -> Result<Analysis, FaceError> {
        self.analyze_decoded(Decoded { full: image.dimensions(), image: image.clone() }, None, purpose)
    }

    /// Detection runs on `decoded` as it is; faces are reported in full-resolution pixels. When the
    /// subject is too small in a reduced decode for a faithful crop, `bytes` are decoded again, finer.
    fn analyze_decoded(
        &mut self,
        decoded: Decoded,
        bytes: Option<&[u8]>,
        purpose: Purpose,
    ) -> Result<Analysis, FaceError> {
        let located = self.locate(decoded, bytes, purpose)?;
        if purpose == Purpose::Enroll {
            self.policy.quality.check(&located.quality).map_err(Rejection::from)?;
        }
        let (identity, timings) = self.identify(&located, purpose, true)?;
        let Located { face, quality, light, width, height, .. } = located;
        let Identity { embedding, fingerprint, liveness } = identity;
        Ok(Analysis { liveness, quality, embedding, fingerprint, light, face, width, height, timings })
    }

    /// One frame of a capture: where the face is, its pose and its light always; the recognizer
    /// and the fingerprint, and passive liveness, only as `work` asks (the service picks which
    /// frames need them: `service/liveness/sampling.rs`).
    pub fn analyze_frame(&mut self, bytes: &[u8], work: FrameWork) -> Result<CaptureFrame, FaceError> {
        let start = Instant::now();
        let decoded =
            decode_reduced(bytes, self.max_pixels, self.decode_side(Purpose::Frame), Scans::SkipAcRefinements)?;
        let decode_ms = ms(start);
        let located = self.locate(decoded, Some(bytes), Purpose::Frame)?;
        let (identity, mut timings) = match work.identifies() {
            true => {
                let (identity, timings) = self.identify(&located, Purpose::Frame, work.scores())?;
                (Some(identity), timings)
            }
            false => (None, located.timings),
        };
        timings.decode_ms += decode_ms;
        let Located { face, quality, light, .. } = located;
        Ok(CaptureFrame { face, quality, light, identity, timings })
    }

    /// Decode refinement, detection, subject selection, quality and light: everything but the
    /// recognizer and passive liveness.
    fn locate(&mut self, decoded: Decoded, bytes: Option<&[u8]>, purpose: Purpose) -> Result<Located, FaceError> {
        let start = Instant::now();
        let (sx, sy) = decoded.scale();
        let (found, coarse) = self.find_faces(&decoded.image)?;
        let faces: Vec<Detection> = found.iter().map(|f| f.scaled(sx, sy)).collect();
        let (width, height) = decoded.full;
        let subject = self.policy.select(&faces, width, height, purpose)?;
        let face = match coarse {
            Some(scale) => self.refine(&decoded.image, found[subject].clone(), scale)?.scaled(sx, sy),
            None => faces[subject].clone(),
        };
        let detect_ms = ms(start);
        let start = Instant::now();
        let image = match bytes {
            Some(bytes) if decoded.is_reduced() && face.face_scale() / sx.max(sy) < DETAIL_SCALE => {
                let side = detail_side(width.max(height), face.face_scale());
                decode_reduced(bytes, self.max_pixels, side, Scans::All)?.image
            }
            _ => decoded.image,
        };
        let decode_ms = ms(start);
        // The subject in the pixels of the image at hand (the identity when it is the full photo).
        let local = face.scaled(image.width() as f32 / width as f32, image.height() as f32 / height as f32);
        let quality = measure(&image, &local);
        let light = LightSample::measure(&image, &local);
        let timings = StageTimings { decode_ms, detect_ms, align_ms: 0.0, embed_ms: 0.0 };
        Ok(Located { face, local, image, width, height, quality, light, timings })
    }

    /// The recognizer (one run), the fingerprint, and passive liveness on probes when `passive`.
    fn identify(
        &mut self,
        located: &Located,
        purpose: Purpose,
        passive: bool,
    ) -> Result<(Identity, StageTimings), FaceError> {
        let Located { image, local, .. } = located;
        let mut timings = located.timings;
        let start = Instant::now();
        let crop = norm_crop(image, &local.landmarks).ok_or(Rejection::NoFace)?;
        timings.align_ms = ms(start);
        let start = Instant::now();
        // One recognizer run a photo: a mirrored copy is caught by the face hash's mirror image.
        // A capture's frames run on the worker's own thread (`Lane::Own`).
        let lane = match purpose {
            Purpose::Frame => Lane::Own,
            _ => Lane::Pooled,
        };
        let embedding = self.recognizer.embed_on(&crop, lane)?;
        let fingerprint = Fingerprint::of(&crop, &embedding);
        timings.embed_ms = ms(start);
        // Liveness is a property of a capture, asked of probes; references were checked at enrolment.
        let liveness = match passive && purpose != Purpose::Enroll && self.anti_spoof.is_some() {
            true => {
                let start = Instant::now();
                // A capture's frames are scored on their own boxes: the reference canvas's second
                // detection (17-24 ms a frame here) would double a capture's cost, and the capture
                // is judged on the mean of many scores, not on one.
                let box_ = match purpose {
                    Purpose::Frame => local.clone(),
                    _ => self.liveness_box(image, local)?,
                };
                let anti_spoof = self.anti_spoof.as_mut().expect("checked above");
                let score = anti_spoof.score(image, &box_)?;
                timings.detect_ms += ms(start);
                Some(score)
            }
            false => None,
        };
        Ok((Identity { embedding, fingerprint, liveness }, timings))
    }

    /// The box MiniFASNet's crop is cut around: the one the reference pipeline would give (SCRFD
    /// on its one 640² canvas, over the full decode), whatever PIPELINE says. The thresholds and
    /// figures of passive liveness were validated on those crops; the adaptive pipeline's boxes
    /// (coarse canvas, refined) differ by a few pixels, and MiniFASNet's score moves with them
    /// (up to 0.29 in P(real) on the dev photos). The reference box nearest the subject is taken;
    /// if that canvas finds no face there (a face it would have missed), the subject's own box.
    fn liveness_box(&mut self, image: &RgbImage, subject: &Detection) -> Result<Detection, FaceError> {
        if self.mode == PipelineMode::Reference {
            return Ok(subject.clone());
        }
        let centre = |d: &Detection| ((d.bbox[0] + d.bbox[2]) / 2.0, (d.bbox[1] + d.bbox[3]) / 2.0);
        let (cx, cy) = centre(subject);
        let size = (subject.bbox[2] - subject.bbox[0]).max(subject.bbox[3] - subject.bbox[1]);
        let distance = |d: &Detection| {
            let (x, y) = centre(d);
            ((x - cx).powi(2) + (y - cy).powi(2)).sqrt()
        };
        let found = self.detector.detect(image)?;
        let nearest = found.into_iter().min_by(|a, b| distance(a).total_cmp(&distance(b)));
        Ok(nearest.filter(|d| distance(d) < size / 2.0).unwrap_or_else(|| subject.clone()))
    }
}
