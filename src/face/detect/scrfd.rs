//! SCRFD (InsightFace) face detection: letterbox, run, decode the stride heads, non-maximum
//! suppression. Five landmarks come with each face.
//!
//! Mirrors InsightFace's `SCRFD.detect` (python-package `insightface/model_zoo/scrfd.py`) so that
//! boxes and landmarks match the reference pipeline to a fraction of a pixel.

use std::path::Path;

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;

use super::detection::{Detection, DetectorSettings, nms};
use crate::face::letterbox::{Region, letterbox_region};
use crate::face::runtime::{InferenceError, ModelError};

pub struct Scrfd {
    session: Session,
    input_name: String,
    canvas: (u32, u32),
    /// The model was exported for one canvas size; `detect_at` cannot choose another.
    fixed: bool,
    settings: DetectorSettings,
}

impl Scrfd {
    /// An SCRFD detector from its opened `session` (`path` names it in errors).
    pub fn new(path: &Path, session: Session, settings: DetectorSettings) -> Result<Self, ModelError> {
        let interface = |message: String| ModelError::Interface { path: path.to_path_buf(), message };
        let input = session.inputs().first().ok_or_else(|| interface("the model declares no input".into()))?;
        let dims: Vec<i64> = input.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        if dims.len() != 4 {
            return Err(interface(format!("expected a [1,3,H,W] input, found {dims:?}")));
        }
        // A model exported with a fixed canvas dictates it; a dynamic one takes the configured size.
        let fixed = dims[2] > 0 && dims[3] > 0;
        let canvas = if fixed { (dims[3] as u32, dims[2] as u32) } else { (settings.input_size, settings.input_size) };
        let mut heads = [0usize; 3];
        for output in session.outputs() {
            match output.dtype().tensor_shape().and_then(|s| s.last().copied()) {
                Some(1) => heads[0] += 1,
                Some(4) => heads[1] += 1,
                Some(10) => heads[2] += 1,
                _ => {}
            }
        }
        if heads[0] == 0 || heads[0] != heads[1] || heads[1] != heads[2] {
            return Err(interface(format!(
                "not an SCRFD detector with landmarks: expected equal numbers of score/box/landmark outputs, found {heads:?}"
            )));
        }
        Ok(Self { input_name: input.name().to_string(), session, canvas, fixed, settings })
    }

    /// The configured canvas side: the largest canvas the adaptive pipeline uses.
    pub fn max_side(&self) -> u32 {
        self.canvas.0.max(self.canvas.1)
    }

    /// The faces in `region`, on a `canvas` of the caller's choosing (multiples of 32; a model with
    /// a fixed input size keeps its own), in the whole image's pixels.
    pub fn detect_region(
        &mut self,
        image: &RgbImage,
        region: Region,
        canvas: (u32, u32),
    ) -> Result<Vec<Detection>, InferenceError> {
        let canvas = if self.fixed { self.canvas } else { canvas };
        let lb = letterbox_region(image, region, canvas.0, canvas.1);
        let input = TensorRef::from_array_view(&lb.tensor).map_err(InferenceError::run("detector"))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => input])
            .map_err(InferenceError::run("detector"))?;
        let mut heads = Vec::with_capacity(outputs.len());
        for i in 0..outputs.len() {
            let (shape, data) = outputs[i].try_extract_tensor::<f32>().map_err(InferenceError::run("detector"))?;
            heads.push(Head { last_dim: shape.last().copied().unwrap_or(0) as usize, data });
        }
        let mut dets = decode_heads(&heads, canvas, self.settings.score_threshold)
            .map_err(|detail| InferenceError::Output { model: "detector", detail })?;
        let inv = 1.0 / lb.scale;
        let (ox, oy) = (region.x as f32, region.y as f32);
        for d in &mut dets {
            d.bbox.iter_mut().for_each(|v| *v *= inv);
            d.landmarks.iter_mut().flatten().for_each(|v| *v *= inv);
            // A whole-image region adds nothing, keeping the reference's numbers bit for bit.
            if region.x > 0 || region.y > 0 {
                for (i, v) in d.bbox.iter_mut().enumerate() {
                    *v += if i % 2 == 0 { ox } else { oy };
                }
                for [x, y] in &mut d.landmarks {
                    *x += ox;
                    *y += oy;
                }
            }
        }
        Ok(nms(dets, self.settings.nms_threshold))
    }
}

/// One output tensor of the detector, flattened.
pub struct Head<'a> {
    pub last_dim: usize,
    pub data: &'a [f32],
}

/// Turns SCRFD's per-stride heads into candidate faces in canvas pixels.
///
/// Output names and order differ between SCRFD exports, so heads are grouped by their last dimension
/// (1 = score, 4 = box distances, 10 = landmark offsets) and ordered by row count: the finest stride
/// has the most anchors.
pub fn decode_heads(heads: &[Head<'_>], canvas: (u32, u32), threshold: f32) -> Result<Vec<Detection>, String> {
    let group = |dim: usize| {
        let mut g: Vec<&Head<'_>> = heads.iter().filter(|h| h.last_dim == dim).collect();
        g.sort_by_key(|h| std::cmp::Reverse(h.data.len() / dim));
        g
    };
    let (scores, boxes, kps) = (group(1), group(4), group(10));
    let strides: &[u32] = match scores.len() {
        3 => &[8, 16, 32],
        5 => &[8, 16, 32, 64, 128],
        n => return Err(format!("unexpected number of detector levels: {n}")),
    };
    if boxes.len() != scores.len() || kps.len() != scores.len() {
        return Err("detector heads do not pair up".into());
    }
    let mut dets = Vec::new();
    for (level, &stride) in strides.iter().enumerate() {
        let (fw, fh) = ((canvas.0 / stride) as usize, (canvas.1 / stride) as usize);
        let n = scores[level].data.len();
        if fw * fh == 0 || n % (fw * fh) != 0 || boxes[level].data.len() != n * 4 || kps[level].data.len() != n * 10 {
            return Err(format!("detector level {level} has an unexpected size"));
        }
        let anchors = n / (fw * fh);
        let s = stride as f32;
        for (i, &score) in scores[level].data.iter().enumerate() {
            if score < threshold {
                continue;
            }
            let cell = i / anchors;
            let (cx, cy) = ((cell % fw) as f32 * s, (cell / fw) as f32 * s);
            let b = &boxes[level].data[i * 4..i * 4 + 4];
            let k = &kps[level].data[i * 10..i * 10 + 10];
            let mut landmarks = [[0.0; 2]; 5];
            for (j, point) in landmarks.iter_mut().enumerate() {
                *point = [cx + k[2 * j] * s, cy + k[2 * j + 1] * s];
            }
            dets.push(Detection {
                bbox: [cx - b[0] * s, cy - b[1] * s, cx + b[2] * s, cy + b[3] * s],
                score,
                landmarks,
                pose: None,
                shape: None,
            });
        }
    }
    Ok(dets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_places_anchors_on_the_stride_grid() {
        // A 64x64 canvas: strides 8/16/32 give 8x8, 4x4 and 2x2 cells, 2 anchors each.
        let sizes = [128usize, 32, 8];
        let mut scores: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
        let boxes: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![1.0; n * 4]).collect();
        let kps: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.5; n * 10]).collect();
        // Level 1 (stride 16), cell (x=2, y=1) = index 6, second anchor.
        scores[1][6 * 2 + 1] = 0.9;
        let mut heads = Vec::new();
        for i in 0..3 {
            heads.push(Head { last_dim: 1, data: &scores[i] });
            heads.push(Head { last_dim: 4, data: &boxes[i] });
            heads.push(Head { last_dim: 10, data: &kps[i] });
        }
        let dets = decode_heads(&heads, (64, 64), 0.5).unwrap();
        assert_eq!(dets.len(), 1);
        assert_eq!(dets[0].bbox, [16.0, 0.0, 48.0, 32.0]);
        assert_eq!(dets[0].landmarks[0], [40.0, 24.0]);
    }

    #[test]
    fn decode_rejects_heads_that_do_not_pair_up() {
        let data = vec![0.0; 8];
        let heads = [Head { last_dim: 1, data: &data }];
        assert!(decode_heads(&heads, (64, 64), 0.5).is_err());
    }
}
