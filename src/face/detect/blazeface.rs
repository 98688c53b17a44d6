//! MediaPipe BlazeFace short-range: the photo letterboxed into 128×128, 896 anchors decoded into
//! boxes with six keypoints, weighted non-maximum suppression as MediaPipe does it.
//!
//! Anchors and decoding follow MediaPipe's `face_detection_short_range` graph (SSD anchors: strides
//! 8 and 16, 2 and 6 anchors per cell, fixed size 1; box and keypoints as offsets in input pixels).

use std::path::Path;

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;

use super::detection::Detection;
use crate::face::letterbox::{Region, letterbox_nhwc};
use crate::face::runtime::{InferenceError, ModelError};

/// BlazeFace's input side.
const SIDE: u32 = 128;
const ANCHORS: usize = 896;

/// A BlazeFace face in image pixels, before its mesh.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    pub score: f32,
    /// Image-left eye, image-right eye, nose tip, mouth centre, image-left ear, image-right ear.
    pub keypoints: [[f32; 2]; 6],
}

impl Candidate {
    /// The face with its own keypoints standing in for the five alignment points (the mouth centre
    /// for both corners): enough to count a face and judge its size, not to align it.
    pub fn rough_detection(&self) -> Detection {
        let k = &self.keypoints;
        Detection {
            bbox: self.bbox,
            score: self.score,
            landmarks: [k[0], k[1], k[2], k[3], k[3]],
            pose: None,
            shape: None,
        }
    }

    fn iou(&self, other: &Candidate) -> f32 {
        let (a, b) = (&self.bbox, &other.bbox);
        let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
        let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
        let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
        let inter = w * h;
        let union = area(a) + area(b) - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

pub struct BlazeFace {
    session: Session,
    input_name: String,
    /// Anchor centres in input pixels.
    anchors: Vec<[f32; 2]>,
}

/// SSD anchor centres for strides 8 (2 per cell) and 16 (6 per cell) on a 128² input.
fn anchors() -> Vec<[f32; 2]> {
    let mut out = Vec::with_capacity(ANCHORS);
    for (stride, per_cell) in [(8u32, 2), (16, 6)] {
        let cells = SIDE / stride;
        for y in 0..cells {
            for x in 0..cells {
                let centre = [(x as f32 + 0.5) * stride as f32, (y as f32 + 0.5) * stride as f32];
                out.extend(std::iter::repeat_n(centre, per_cell));
            }
        }
    }
    out
}

impl BlazeFace {
    pub fn new(path: &Path, session: Session) -> Result<Self, ModelError> {
        let interface = |message: String| ModelError::Interface { path: path.to_path_buf(), message };
        let input = session.inputs().first().ok_or_else(|| interface("the model declares no input".into()))?;
        let sizes: Vec<i64> =
            session.outputs().iter().filter_map(|o| o.dtype().tensor_shape().and_then(|s| s.last().copied())).collect();
        if !(sizes.contains(&16) && sizes.contains(&1)) {
            return Err(interface(format!(
                "not a BlazeFace detector: expected regressors [1,896,16] and scores [1,896,1], found {sizes:?}"
            )));
        }
        Ok(Self { input_name: input.name().to_string(), session, anchors: anchors() })
    }

    /// Every anchor scoring at least `threshold` in `region`, in the whole image's pixels, before
    /// suppression.
    pub fn detect_region(
        &mut self,
        image: &RgbImage,
        region: Region,
        threshold: f32,
    ) -> Result<Vec<Candidate>, InferenceError> {
        // RGB scaled to [-1, 1], as the MediaPipe graph's ImageToTensor node gives it.
        let lb = letterbox_nhwc(image, region, SIDE, |v| v as f32 / 127.5 - 1.0);
        let input = TensorRef::from_array_view(&lb.tensor).map_err(InferenceError::run("detector"))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => input])
            .map_err(InferenceError::run("detector"))?;
        let (mut regressors, mut scores) = (None, None);
        for i in 0..outputs.len() {
            let (shape, data) = outputs[i].try_extract_tensor::<f32>().map_err(InferenceError::run("detector"))?;
            match shape.last().copied() {
                Some(16) => regressors = Some(data),
                Some(1) => scores = Some(data),
                _ => {}
            }
        }
        let output = |detail: &str| InferenceError::Output { model: "detector", detail: detail.to_string() };
        let (Some(regressors), Some(scores)) = (regressors, scores) else {
            return Err(output("BlazeFace gave no regressors or scores"));
        };
        if regressors.len() != ANCHORS * 16 || scores.len() != ANCHORS {
            return Err(output("BlazeFace outputs have an unexpected size"));
        }
        let (inv, ox, oy) = (1.0 / lb.scale, region.x as f32, region.y as f32);
        let (px, py) = lb.offset;
        let to_image = |[x, y]: [f32; 2]| [(x - px) * inv + ox, (y - py) * inv + oy];
        let mut found = Vec::new();
        for (i, (&logit, anchor)) in scores.iter().zip(&self.anchors).enumerate() {
            // MediaPipe clips the logit to ±100 before the sigmoid.
            let score = 1.0 / (1.0 + (-logit.clamp(-100.0, 100.0)).exp());
            if score < threshold {
                continue;
            }
            let r = &regressors[i * 16..i * 16 + 16];
            let (cx, cy) = (r[0] + anchor[0], r[1] + anchor[1]);
            let [x1, y1] = to_image([cx - r[2] / 2.0, cy - r[3] / 2.0]);
            let [x2, y2] = to_image([cx + r[2] / 2.0, cy + r[3] / 2.0]);
            let keypoints = std::array::from_fn(|k| to_image([r[4 + 2 * k] + anchor[0], r[5 + 2 * k] + anchor[1]]));
            found.push(Candidate { bbox: [x1, y1, x2, y2], score, keypoints });
        }
        Ok(found)
    }
}

/// MediaPipe's weighted suppression: the best remaining candidate and every one overlapping it by
/// more than `iou_threshold` become one face, their boxes and keypoints averaged by score, with the
/// best one's score. It steadies the box from one frame to the next more than plain suppression.
pub fn weighted_nms(mut candidates: Vec<Candidate>, iou_threshold: f32) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut faces = Vec::new();
    while let Some(best) = candidates.first().cloned() {
        let (cluster, rest): (Vec<Candidate>, Vec<Candidate>) =
            candidates.into_iter().partition(|c| best.iou(c) > iou_threshold || c == &best);
        candidates = rest;
        let total: f32 = cluster.iter().map(|c| c.score).sum();
        let mut merged = Candidate { bbox: [0.0; 4], score: best.score, keypoints: [[0.0; 2]; 6] };
        for c in &cluster {
            let w = c.score / total;
            merged.bbox.iter_mut().zip(c.bbox).for_each(|(m, v)| *m += w * v);
            for (m, k) in merged.keypoints.iter_mut().zip(c.keypoints) {
                m[0] += w * k[0];
                m[1] += w * k[1];
            }
        }
        faces.push(merged);
    }
    faces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(bbox: [f32; 4], score: f32) -> Candidate {
        Candidate { bbox, score, keypoints: [[bbox[0], bbox[1]]; 6] }
    }

    #[test]
    fn anchors_cover_both_grids_in_mediapipe_order() {
        let a = anchors();
        assert_eq!(a.len(), ANCHORS);
        assert_eq!((a[0], a[1], a[2]), ([4.0, 4.0], [4.0, 4.0], [12.0, 4.0]));
        // The 16-stride grid starts after the 16×16×2 anchors of the first.
        assert_eq!(a[512], [8.0, 8.0]);
        assert_eq!(a[ANCHORS - 1], [120.0, 120.0]);
    }

    #[test]
    fn weighted_nms_merges_overlaps_by_score_and_keeps_separate_faces() {
        let faces = weighted_nms(
            vec![
                candidate([0.0, 0.0, 10.0, 10.0], 0.9),
                candidate([2.0, 0.0, 12.0, 10.0], 0.3),
                candidate([50.0, 50.0, 60.0, 60.0], 0.7),
            ],
            0.3,
        );
        assert_eq!(faces.len(), 2);
        assert_eq!(faces[0].score, 0.9);
        assert!((faces[0].bbox[0] - 0.5).abs() < 1e-5, "0.75·0 + 0.25·2: {:?}", faces[0].bbox);
        assert_eq!(faces[1].bbox, [50.0, 50.0, 60.0, 60.0]);
    }
}
