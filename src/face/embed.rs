//! Recognizer: aligned 112x112 crop to an L2-normalised embedding.

use std::path::Path;

use image::RgbImage;
use ndarray::Array4;
use ort::session::Session;
use ort::value::TensorRef;

use super::align::CROP_SIZE;
use super::profile::{ColorOrder, ModelProfile};
use super::runtime::{InferenceError, ModelError, open_session, open_single_threaded, shared_pool};

/// A unit-length face embedding; similarity between two is their cosine (= dot product).
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Normalises `raw`; `None` when it has no direction (all zero) or holds NaN/inf.
    pub fn from_raw(raw: Vec<f32>) -> Option<Self> {
        let norm = raw.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        if !(norm.is_finite() && norm > 1e-12) {
            return None;
        }
        Some(Self(raw.into_iter().map(|v| (v as f64 / norm) as f32).collect()))
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Cosine similarity; embeddings of different sizes (different models) never match.
    pub fn cosine(&self, other: &Embedding) -> f32 {
        if self.0.len() != other.0.len() {
            return -1.0;
        }
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }
}

/// Which threads a recognizer run is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// The configured threads: with the shared pool, a lone photo gets every core.
    Pooled,
    /// The worker's own thread: a capture's frames already keep every worker busy, and spread over
    /// the shared pool too, two workers' runs would wait on each other at every operator
    /// (`benches/capture.rs`: per-worker threads decided captures faster than the shared pool).
    Own,
}

pub struct Recognizer {
    session: Session,
    /// The same graph on one thread of its own, for [`Lane::Own`]; only when the configured
    /// threads are the shared pool (otherwise they are the worker's own already).
    own: Option<Session>,
    input_name: String,
    profile: ModelProfile,
    input: Array4<f32>,
}

impl Recognizer {
    pub fn load(path: &Path, intra_threads: usize, profile: ModelProfile) -> Result<Self, ModelError> {
        let session = open_session(path, intra_threads)?;
        let interface = |message: String| ModelError::Interface { path: path.to_path_buf(), message };
        // Some exports (OpenCV's SFace) declare stale extra inputs that no node reads: feed the image
        // input alone.
        let input = session.inputs().first().ok_or_else(|| interface("the model declares no input".into()))?;
        let dims: Vec<i64> = input.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        let side = CROP_SIZE as i64;
        if dims.len() != 4
            || !(dims[1] == 3 || dims[1] < 0)
            || !(dims[2] == side || dims[2] < 0)
            || !(dims[3] == side || dims[3] < 0)
        {
            return Err(interface(format!("expected a [1,3,112,112] input, found {dims:?}")));
        }
        let output = session.outputs().first().ok_or_else(|| interface("the model declares no output".into()))?;
        let out_dim = output.dtype().tensor_shape().and_then(|s| s.last().copied()).unwrap_or(-1);
        if out_dim > 0 && out_dim as usize != profile.embedding_dim {
            return Err(interface(format!(
                "the model outputs {out_dim}-d embeddings but profile {} expects {}: choose the right RECOGNIZER_PROFILE",
                profile.name, profile.embedding_dim
            )));
        }
        let n = CROP_SIZE as usize;
        let input_name = input.name().to_string();
        let own = match shared_pool() {
            true => Some(open_single_threaded(path)?),
            false => None,
        };
        Ok(Self { input_name, session, own, profile, input: Array4::zeros((1, 3, n, n)) })
    }

    pub fn embed(&mut self, crop: &RgbImage) -> Result<Embedding, InferenceError> {
        self.embed_on(crop, Lane::Pooled)
    }

    pub fn embed_on(&mut self, crop: &RgbImage, lane: Lane) -> Result<Embedding, InferenceError> {
        fill_input(&mut self.input, crop, &self.profile);
        let output = |detail: String| InferenceError::Output { model: "recognizer", detail };
        let input = TensorRef::from_array_view(&self.input).map_err(InferenceError::run("recognizer"))?;
        let session = match (lane, &mut self.own) {
            (Lane::Own, Some(own)) => own,
            _ => &mut self.session,
        };
        let outputs =
            session.run(ort::inputs![self.input_name.as_str() => input]).map_err(InferenceError::run("recognizer"))?;
        let (_, data) = outputs[0].try_extract_tensor::<f32>().map_err(InferenceError::run("recognizer"))?;
        if data.len() != self.profile.embedding_dim {
            return Err(output(format!("{} values, expected {}", data.len(), self.profile.embedding_dim)));
        }
        Embedding::from_raw(data.to_vec()).ok_or_else(|| output("a degenerate embedding".into()))
    }
}

/// Writes the crop into the NCHW input with the profile's colour order and normalisation.
pub fn fill_input(input: &mut Array4<f32>, crop: &RgbImage, profile: &ModelProfile) {
    let affine = profile.affine();
    let plane = (crop.width() * crop.height()) as usize;
    let out = input.as_slice_mut().expect("input arrays are allocated contiguous");
    for (i, px) in crop.pixels().enumerate() {
        for (c, &(gain, offset)) in affine.iter().enumerate() {
            let src = match profile.color {
                ColorOrder::Rgb => c,
                ColorOrder::Bgr => 2 - c,
            };
            out[c * plane + i] = px.0[src] as f32 * gain + offset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_unit_length_and_cosine_is_the_dot_product() {
        let a = Embedding::from_raw(vec![3.0, 4.0]).unwrap();
        let b = Embedding::from_raw(vec![4.0, 3.0]).unwrap();
        assert!((a.cosine(&a) - 1.0).abs() < 1e-6);
        assert!((a.cosine(&b) - 0.96).abs() < 1e-6);
    }

    #[test]
    fn degenerate_outputs_are_refused() {
        assert!(Embedding::from_raw(vec![0.0; 4]).is_none());
        assert!(Embedding::from_raw(vec![f32::NAN, 1.0]).is_none());
    }

    #[test]
    fn embeddings_of_different_models_never_match() {
        let a = Embedding::from_raw(vec![1.0; 4]).unwrap();
        let b = Embedding::from_raw(vec![1.0; 8]).unwrap();
        assert_eq!(a.cosine(&b), -1.0);
    }

    #[test]
    fn bgr_profiles_swap_channels() {
        let mut profile = ModelProfile::by_name("sface").unwrap().clone();
        profile.color = ColorOrder::Bgr;
        let crop = RgbImage::from_pixel(112, 112, image::Rgb([1, 2, 3]));
        let mut input = Array4::zeros((1, 3, 112, 112));
        fill_input(&mut input, &crop, &profile);
        assert_eq!([input[[0, 0, 0, 0]], input[[0, 1, 5, 5]], input[[0, 2, 111, 111]]], [3.0, 2.0, 1.0]);
    }
}
