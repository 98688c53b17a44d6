//! The detection stage: find every face and five alignment points for each. Two implementations:
//! SCRFD (InsightFace; five landmarks of its own) and BlazeFace + FaceMesh (MediaPipe; a box, then
//! 468 mesh points from which the five come). The model file says which it is: SCRFD takes NCHW
//! input of any size, BlazeFace a fixed 128×128 NHWC one.

mod blazeface;
mod mesh;
mod scrfd;
mod tiles;

use std::path::Path;
use std::sync::Arc;

use image::RgbImage;

pub use self::blazeface::{BlazeFace, Candidate, weighted_nms};
pub use self::mesh::{FaceMesh, MESH_POINTS, Mesh};
pub use self::scrfd::{Head, Scrfd, decode_heads};
use self::tiles::{NEAR, meshed, tiles};
use super::letterbox::Region;
use super::runtime::{InferenceError, ModelError, open_session, open_single_threaded};

/// One detected face in original image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    pub score: f32,
    /// Left eye, right eye, nose, left and right mouth corners (as seen in the image).
    pub landmarks: [[f32; 2]; 5],
    /// Yaw and pitch in degrees, when the detector measures them itself (FaceMesh); otherwise
    /// [`crate::face::quality::pose`] estimates them from the five landmarks.
    pub pose: Option<[f32; 2]>,
    /// The face's 3-D shape as the detector saw it (FaceMesh's 468 points: x and y in image
    /// pixels, z in the same units, towards the camera negative); `None` from SCRFD. The planarity
    /// check reads it: a flat picture's points move as one plane, a head's do not.
    pub shape: Option<Arc<[[f32; 3]]>>,
}

impl Detection {
    pub fn area(&self) -> f32 {
        (self.bbox[2] - self.bbox[0]).max(0.0) * (self.bbox[3] - self.bbox[1]).max(0.0)
    }

    pub fn eye_distance(&self) -> f32 {
        let [l, r] = [self.landmarks[0], self.landmarks[1]];
        ((l[0] - r[0]).powi(2) + (l[1] - r[1]).powi(2)).sqrt()
    }

    /// The face's resolution in eye distances of a frontal face: the larger of the eye distance and
    /// the eyes-to-mouth distance over 1.15 (their ratio in ArcFace's 112 px template: 40.6 / 35.2 px).
    /// A head turned sideways keeps its eyes-to-mouth height while its eyes close up, and a tilted one
    /// the reverse, so neither looks smaller than it is.
    pub fn face_scale(&self) -> f32 {
        let [le, re, _, lm, rm] = self.landmarks;
        let eyes = [(le[0] + re[0]) / 2.0, (le[1] + re[1]) / 2.0];
        let mouth = [(lm[0] + rm[0]) / 2.0, (lm[1] + rm[1]) / 2.0];
        let height = ((eyes[0] - mouth[0]).powi(2) + (eyes[1] - mouth[1]).powi(2)).sqrt();
        self.eye_distance().max(height / 1.15)
    }

    /// Yaw and pitch in degrees: the detector's own measurement when it made one (FaceMesh), else
    /// [`Detection::five_point_pose`].
    pub fn head_pose(&self) -> (f32, f32) {
        match self.pose {
            Some([yaw, pitch]) => (yaw, pitch),
            None => self.five_point_pose(),
        }
    }

    /// Yaw and pitch in degrees from SCRFD's five landmarks (the scale every pose limit,
    /// QUALITY_MAX_* and CHALLENGE_*, was set on): the nose tip's offset from the eyes' midpoint,
    /// in eye distances, read as the rotation of a point a little in front of the eyes' plane.
    pub fn five_point_pose(&self) -> (f32, f32) {
        let [le, re, nose, lm, rm] = self.landmarks;
        let eyes = [(le[0] + re[0]) / 2.0, (le[1] + re[1]) / 2.0];
        let mouth = [(lm[0] + rm[0]) / 2.0, (lm[1] + rm[1]) / 2.0];
        let eye_distance = self.eye_distance().max(1.0);
        // The nose tip stands about 0.6 eye distances in front of the eyes (adult faces).
        let yaw = ((nose[0] - eyes[0]) / eye_distance / 0.6).atan().to_degrees();
        // Frontal, the nose sits about 0.55 of the way from the eyes to the mouth.
        let span = (mouth[1] - eyes[1]).max(1.0);
        let pitch = -(((nose[1] - eyes[1]) / span - 0.55) * span / eye_distance / 0.6).atan().to_degrees();
        (yaw, pitch)
    }

    /// The same face in an image `sx`×`sy` times as large.
    pub fn scaled(&self, sx: f32, sy: f32) -> Self {
        let [x1, y1, x2, y2] = self.bbox;
        Self {
            bbox: [x1 * sx, y1 * sy, x2 * sx, y2 * sy],
            score: self.score,
            landmarks: self.landmarks.map(|[x, y]| [x * sx, y * sy]),
            pose: self.pose,
            // Depth scales with the image (a uniform scale in practice: sx and sy differ by rounding).
            shape: self.shape.as_ref().map(|points| {
                let sz = (sx + sy) / 2.0;
                points.iter().map(|[x, y, z]| [x * sx, y * sy, z * sz]).collect()
            }),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DetectorSettings {
    /// Square canvas side the image is letterboxed into (a multiple of 32), unless the model fixes it.
    pub input_size: u32,
    pub score_threshold: f32,
    pub nms_threshold: f32,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        Self { input_size: 640, score_threshold: 0.5, nms_threshold: 0.4 }
    }
}

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

/// Greedy NMS by score, with InsightFace's inclusive-pixel (+1) box areas.
pub fn nms(mut dets: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let area = |d: &Detection| (d.bbox[2] - d.bbox[0] + 1.0) * (d.bbox[3] - d.bbox[1] + 1.0);
    let mut keep: Vec<Detection> = Vec::new();
    for d in dets {
        let suppressed = keep.iter().any(|k| {
            let w = (k.bbox[2].min(d.bbox[2]) - k.bbox[0].max(d.bbox[0]) + 1.0).max(0.0);
            let h = (k.bbox[3].min(d.bbox[3]) - k.bbox[1].max(d.bbox[1]) + 1.0).max(0.0);
            let inter = w * h;
            inter / (area(k) + area(&d) - inter) > iou_threshold
        });
        if !suppressed {
            keep.push(d);
        }
    }
    keep
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
