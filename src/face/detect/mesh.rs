//! MediaPipe FaceMesh: 468 face points from a level, square region around a BlazeFace face, and
//! the five ArcFace alignment points taken from them.
//!
//! BlazeFace's own keypoints do not align well enough for recognition (its mouth-centre point
//! misplaces the crop); the mesh's eye corners, nose tip and mouth corners do
//! (`../shared/models/SOURCES.md`, measured on held-out LFW pairs).

use std::path::Path;

use image::RgbImage;
use ndarray::Array4;
use ort::session::Session;
use ort::value::TensorRef;

use super::blazeface::Candidate;
use super::detection::Detection;
use crate::face::align::{Similarity, warp};
use crate::face::runtime::{InferenceError, ModelError};

/// FaceMesh's input side.
const SIDE: u32 = 192;
pub const MESH_POINTS: usize = 468;
/// The region is this many times the BlazeFace box (MediaPipe's face-landmark graph).
const REGION_SCALE: f32 = 1.5;
/// The face-presence probability under which a region is taken to hold no face.
const PRESENCE: f32 = 0.5;

/// Mesh indices of the five alignment points: the eye centres (outer and inner corner of each, the
/// image-left eye first), the nose tip, the mouth corners (image-left first).
const EYE_LEFT: [usize; 2] = [33, 133];
const EYE_RIGHT: [usize; 2] = [362, 263];
const NOSE_TIP: usize = 1;
const MOUTH: [usize; 2] = [61, 291];

/// A face's mesh, in image pixels (`z` in the same units, towards the camera negative).
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    pub points: Vec<[f32; 3]>,
    pub presence: f32,
}

impl Mesh {
    /// Whether FaceMesh takes its region to hold a face.
    pub fn is_face(&self) -> bool {
        self.presence >= PRESENCE
    }

    /// The five ArcFace points from the mesh.
    pub fn five_points(&self) -> [[f32; 2]; 5] {
        let p = |i: usize| [self.points[i][0], self.points[i][1]];
        let mean = |[a, b]: [usize; 2]| [(p(a)[0] + p(b)[0]) / 2.0, (p(a)[1] + p(b)[1]) / 2.0];
        [mean(EYE_LEFT), mean(EYE_RIGHT), p(NOSE_TIP), p(MOUTH[0]), p(MOUTH[1])]
    }

    /// The box SCRFD would draw around this face, from the mesh's extent: the limits every
    /// box-based step was set on (face margins, the quality and light regions, MiniFASNet's crop
    /// window) assume SCRFD's boxes, and BlazeFace's are smaller and sit lower. On the 134 dev faces
    /// SCRFD's box is 0.979 (±0.030) of the mesh's width, 1.174 (±0.047) of its height, and centred
    /// 0.064 (±0.022) of its height higher; BlazeFace's own box spreads twice as much.
    pub fn scrfd_box(&self) -> [f32; 4] {
        let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
        for p in &self.points {
            for k in 0..2 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let (w, h) = (hi[0] - lo[0], hi[1] - lo[1]);
        let (cx, cy) = ((lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0 - 0.064 * h);
        let (half_w, half_h) = (0.979 * w / 2.0, 1.174 * h / 2.0);
        [cx - half_w, cy - half_h, cx + half_w, cy + half_h]
    }

    /// The detection for this mesh: an SCRFD-like box, BlazeFace's score, the mesh's five points
    /// and pose.
    pub fn detection(&self, candidate: &Candidate) -> Detection {
        let mut face = Detection {
            bbox: self.scrfd_box(),
            score: candidate.score,
            landmarks: self.five_points(),
            pose: None,
            shape: Some(self.points.as_slice().into()),
        };
        face.pose = Some(self.pose(&face));
        face
    }

    /// Yaw and pitch in degrees, on the scale of SCRFD's five-point estimate (the one every pose
    /// limit was set on). The mesh's eye centres are the middles of the eye corners and its nose
    /// point the tip, so the same formula reads turns larger and nods smaller; mapped back by a
    /// straight-line fit on 282 faces (the dev photos and every fourth frame of both recordings in
    /// `../shared/faces/video`): correlation 0.95 in yaw and 0.94 in pitch, residual 3.6° and 3.8°.
    fn pose(&self, face: &Detection) -> [f32; 2] {
        let (yaw, pitch) = face.five_point_pose();
        [0.80 * yaw - 0.5, 1.10 * pitch + 5.35]
    }
}

pub struct FaceMesh {
    session: Session,
    input_name: String,
}

/// Image → region transform: centred on the box, `REGION_SCALE` times its larger side, turned so
/// that the line from the image-left eye to the image-right eye is level.
fn region_transform(candidate: &Candidate) -> Similarity {
    let [x1, y1, x2, y2] = candidate.bbox;
    let (cx, cy) = ((x1 + x2) as f64 / 2.0, (y1 + y2) as f64 / 2.0);
    let side = ((x2 - x1).max(y2 - y1) * REGION_SCALE).max(1.0) as f64;
    let [l, r] = [candidate.keypoints[0], candidate.keypoints[1]];
    let angle = ((r[1] - l[1]) as f64).atan2((r[0] - l[0]) as f64);
    let scale = SIDE as f64 / side;
    // Rotating by −angle levels the eyes.
    let (a, b) = (scale * angle.cos(), -scale * angle.sin());
    let half = SIDE as f64 / 2.0;
    Similarity { a, b, tx: half - (a * cx - b * cy), ty: half - (b * cx + a * cy) }
}

impl FaceMesh {
    pub fn new(path: &Path, session: Session) -> Result<Self, ModelError> {
        let interface = |message: String| ModelError::Interface { path: path.to_path_buf(), message };
        let input = session.inputs().first().ok_or_else(|| interface("the model declares no input".into()))?;
        let dims: Vec<i64> = input.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        let points = session
            .outputs()
            .iter()
            .any(|o| o.dtype().tensor_shape().and_then(|s| s.last().copied()) == Some(MESH_POINTS as i64 * 3));
        if dims != [1, SIDE as i64, SIDE as i64, 3] || !points {
            return Err(interface(format!(
                "not a FaceMesh landmark model: expected a [1,192,192,3] input and 1404 outputs, found {dims:?}"
            )));
        }
        Ok(Self { input_name: input.name().to_string(), session })
    }

    /// The mesh of the face BlazeFace found as `candidate` (`None` for a degenerate box), with its
    /// presence score: see [`Mesh::is_face`].
    pub fn locate(&mut self, image: &RgbImage, candidate: &Candidate) -> Result<Option<Mesh>, InferenceError> {
        let forward = region_transform(candidate);
        let output = |detail: &str| InferenceError::Output { model: "landmarks", detail: detail.to_string() };
        let (Some(region), Some(back)) = (warp(image, &forward, SIDE), forward.inverse()) else {
            return Ok(None);
        };
        let s = SIDE as usize;
        let mut tensor = Array4::<f32>::zeros((1, s, s, 3));
        let values = tensor.as_slice_mut().expect("freshly allocated arrays are contiguous");
        for (value, &pixel) in values.iter_mut().zip(region.as_raw()) {
            *value = pixel as f32 / 255.0;
        }
        let input = TensorRef::from_array_view(&tensor).map_err(InferenceError::run("landmarks"))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => input])
            .map_err(InferenceError::run("landmarks"))?;
        let (mut coords, mut presence) = (None, None);
        for i in 0..outputs.len() {
            let (_, data) = outputs[i].try_extract_tensor::<f32>().map_err(InferenceError::run("landmarks"))?;
            match data.len() {
                n if n == MESH_POINTS * 3 => coords = Some(data.to_vec()),
                1 => presence = Some(1.0 / (1.0 + (-data[0]).exp())),
                _ => {}
            }
        }
        let (Some(coords), Some(presence)) = (coords, presence) else {
            return Err(output("FaceMesh gave no points or no presence score"));
        };
        // Back from region pixels to the image's; depth scales as x and y do.
        let scale = (back.a * back.a + back.b * back.b).sqrt() as f32;
        let points = coords
            .chunks_exact(3)
            .map(|p| {
                let [x, y] = back.apply([p[0] as f64, p[1] as f64]);
                [x as f32, y as f32, p[2] * scale]
            })
            .collect();
        Ok(Some(Mesh { points, presence }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_levels_a_tilted_face_and_centres_it() {
        // Eyes on a 45° line: the region turns the face back by 45°.
        let keypoints = [[40.0, 40.0], [60.0, 60.0], [50.0, 50.0], [50.0, 50.0], [0.0; 2], [0.0; 2]];
        let candidate = Candidate { bbox: [30.0, 30.0, 70.0, 70.0], score: 0.9, keypoints };
        let t = region_transform(&candidate);
        let centre = t.apply([50.0, 50.0]);
        assert!((centre[0] - 96.0).abs() < 1e-9 && (centre[1] - 96.0).abs() < 1e-9, "{centre:?}");
        let (l, r) = (t.apply([40.0, 40.0]), t.apply([60.0, 60.0]));
        assert!((l[1] - r[1]).abs() < 1e-9, "eyes level: {l:?} {r:?}");
        assert!(r[0] > l[0], "not mirrored");
        // 1.5 × 40 px of box become 192 px.
        assert!(((r[0] - l[0]) - (20.0 * 2f64.sqrt()) * 192.0 / 60.0).abs() < 1e-9);
    }

    #[test]
    fn five_points_come_from_the_eye_corners_nose_and_mouth() {
        let mut points = vec![[0.0f32; 3]; MESH_POINTS];
        for (i, p) in points.iter_mut().enumerate() {
            *p = [i as f32, 2.0 * i as f32, 0.0];
        }
        let five = Mesh { points, presence: 1.0 }.five_points();
        assert_eq!(five[0], [83.0, 166.0]);
        assert_eq!(five[1], [312.5, 625.0]);
        assert_eq!(five[2], [1.0, 2.0]);
        assert_eq!((five[3], five[4]), ([61.0, 122.0], [291.0, 582.0]));
    }
}
