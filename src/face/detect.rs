//! The detection stage: find every face and five alignment points for each. Two implementations:
//! SCRFD (InsightFace; five landmarks of its own) and BlazeFace + FaceMesh (MediaPipe; a box, then
//! 468 mesh points from which the five come). The model file says which it is: SCRFD takes NCHW
//! input of any size, BlazeFace a fixed 128×128 NHWC one.

mod blazeface;
mod detection;
mod mesh;
mod scrfd;
mod tiles;

use std::path::Path;

use image::RgbImage;

pub use self::blazeface::{BlazeFace, Candidate, weighted_nms};
pub use self::detection::{Detection, DetectorSettings, nms};
pub use self::mesh::{FaceMesh, MESH_POINTS, Mesh};
pub use self::scrfd::{Head, Scrfd, decode_heads};
use self::tiles::{NEAR, meshed, tiles};
use super::letterbox::Region;
use super::runtime::{InferenceError, ModelError, open_session, open_single_threaded};

/// Which detector a file is, read from its input.
fn is_mediapipe(dims: &[i64]) -> bool {
    dims.len() == 4 && dims[3] == 3 && dims[1] > 0 && dims[1] == dims[2]
}

fn input_dims(session: &ort::session::Session) -> Vec<i64> {
    session.inputs().first().and_then(|i| i.dtype().tensor_shape().map(|s| s.to_vec())).unwrap_or_default()
}

/// Whether the detector at `path` needs a landmark model (BlazeFace does, SCRFD does not).
pub fn needs_landmarks(path: &Path) -> Result<bool, ModelError> {
    Ok(is_mediapipe(&input_dims(&open_session(path, 1)?)))
}

/// A detection stage: SCRFD, or BlazeFace with FaceMesh for the landmarks.
pub enum Detector {
    Scrfd(Scrfd),
    Mesh { blazeface: BlazeFace, mesh: FaceMesh, settings: DetectorSettings },
}

impl Detector {
    /// The detector at `path`; a BlazeFace file needs the FaceMesh file (`landmarks`) beside it.
    pub fn load(
        path: &Path,
        landmarks: Option<&Path>,
        intra_threads: usize,
        settings: DetectorSettings,
    ) -> Result<Self, ModelError> {
        // BlazeFace (128²) and FaceMesh (192²) run in a millisecond or two: on the worker's own
        // thread. SCRFD's 640² canvas gains from the configured threads: opened again with them.
        let session = open_single_threaded(path)?;
        if !is_mediapipe(&input_dims(&session)) {
            drop(session);
            return Ok(Self::Scrfd(Scrfd::new(path, open_session(path, intra_threads)?, settings)?));
        }
        let blazeface = BlazeFace::new(path, session)?;
        let Some(landmarks) = landmarks else {
            return Err(ModelError::Interface {
                path: path.to_path_buf(),
                message: "a BlazeFace detector needs the FaceMesh landmark model: set LANDMARK_MODEL".into(),
            });
        };
        let mesh = FaceMesh::new(landmarks, open_single_threaded(landmarks)?)?;
        Ok(Self::Mesh { blazeface, mesh, settings })
    }

    /// All faces above the score threshold after NMS, highest score first.
    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<Detection>, InferenceError> {
        let side = self.max_side();
        self.detect_at(image, (side, side))
    }

    /// The largest canvas the adaptive pipeline uses. BlazeFace's input is fixed, but the mesh is
    /// read from the photo itself, so the photo is decoded as large as SCRFD's canvas would need.
    pub fn max_side(&self) -> u32 {
        match self {
            Self::Scrfd(d) => d.max_side(),
            Self::Mesh { settings, .. } => settings.input_size,
        }
    }

    /// As [`Detector::detect`] on a canvas of the caller's choosing (SCRFD; BlazeFace keeps its own).
    pub fn detect_at(&mut self, image: &RgbImage, canvas: (u32, u32)) -> Result<Vec<Detection>, InferenceError> {
        self.detect_region(image, Region { x: 0, y: 0, w: image.width(), h: image.height() }, canvas)
    }

    /// As [`Detector::detect_at`], looking only at `region`; faces are in the whole image's pixels.
    pub fn detect_region(
        &mut self,
        image: &RgbImage,
        region: Region,
        canvas: (u32, u32),
    ) -> Result<Vec<Detection>, InferenceError> {
        match self {
            Self::Scrfd(d) => d.detect_region(image, region, canvas),
            Self::Mesh { blazeface, mesh, settings } => {
                let mut found = blazeface.detect_region(image, region, settings.score_threshold)?;
                let faces = meshed(mesh, image, found.clone(), settings)?;
                let short = region.w.min(region.h) as f32;
                if faces.iter().any(|f| (f.bbox[2] - f.bbox[0]).max(f.bbox[3] - f.bbox[1]) >= short * NEAR) {
                    return Ok(faces);
                }
                // The short-range model sees the photo at 128 px: faces a few percent of a wide or
                // large photo (a group at a table, a face far away) vanish. With no face near the
                // camera, it looks again at overlapping squares of the photo, so a group still reads
                // as several faces and a distant face as one too small.
                for tile in tiles(region) {
                    found.extend(blazeface.detect_region(image, tile, settings.score_threshold)?);
                }
                meshed(mesh, image, found, settings)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(bbox: [f32; 4], score: f32) -> Detection {
        Detection { bbox, score, landmarks: [[0.0; 2]; 5], pose: None, shape: None }
    }

    #[test]
    fn nms_drops_overlapping_lower_scores_and_keeps_separate_faces() {
        let kept = nms(
            vec![
                det([0.0, 0.0, 10.0, 10.0], 0.6),
                det([1.0, 1.0, 11.0, 11.0], 0.9),
                det([50.0, 50.0, 60.0, 60.0], 0.7),
            ],
            0.4,
        );
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.7]);
    }

    #[test]
    fn the_input_layout_tells_the_detectors_apart() {
        assert!(is_mediapipe(&[1, 128, 128, 3]));
        assert!(!is_mediapipe(&[1, 3, 640, 640]));
        assert!(!is_mediapipe(&[1, 3, -1, -1]));
    }
}
