//! Passive anti-spoofing: MiniFASNet V2 (crop scale 2.7) and V1SE (4.0) from minivision-ai's
//! Silent-Face-Anti-Spoofing, ported number by number from its Python pipeline (the exact steps are
//! in `../shared/faces/liveness/README.md`): the detector's box widened by each model's scale (and
//! shifted, never clipped, to stay inside the photo), resized to 80×80 with OpenCV's bilinear, BGR
//! 0–255 CHW, no normalisation; the two models' softmaxes summed; P(real) = half the live class.

use std::path::Path;

use image::RgbImage;
use ndarray::Array4;
use ort::session::Session;
use ort::value::TensorRef;
use serde::Serialize;

use super::detect::Detection;
use super::letterbox::{Region, resize_region};
use super::runtime::{InferenceError, ModelError, open_single_threaded};

const SIDE: u32 = 80;

/// What the two models say about one face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LivenessScore {
    /// The probability that the face is a live person (0–1).
    pub p_real: f64,
    /// 0 = 2D spoof (print, screen), 1 = live, 2 = 3D spoof: the class with the highest summed score.
    pub label: u8,
}

struct Model {
    session: Session,
    input_name: String,
    /// How much wider than the face the crop is (from the file name: `2.7_…`, `4_0_0_…`).
    scale: f64,
}

pub struct AntiSpoof {
    models: Vec<Model>,
    input: Array4<f32>,
}

/// The crop scale a MiniFASNet file was trained with, from its name's first `_` field.
pub fn scale_from_name(path: &Path) -> Option<f64> {
    let name = path.file_name()?.to_str()?;
    name.split('_').next()?.parse().ok()
}

/// The crop window for a face box (as upstream's `CropImage._get_new_box`), inclusive corners.
pub fn crop_window(face: &Detection, width: u32, height: u32, scale: f64) -> (i64, i64, i64, i64) {
    // Upstream's integer box: x = int(x1), w = int(x2 - x1 + 1), truncating toward zero.
    let [x1, y1, x2, y2] = face.bbox;
    let (x, y) = (x1 as i64 as f64, y1 as i64 as f64);
    let (w, h) = ((x2 - x1 + 1.0) as i64 as f64, (y2 - y1 + 1.0) as i64 as f64);
    let (wf, hf) = (width as f64 - 1.0, height as f64 - 1.0);
    let scale = (hf / h).min((wf / w).min(scale));
    let (nw, nh) = (w * scale, h * scale);
    let (cx, cy) = (w / 2.0 + x, h / 2.0 + y);
    let (mut lx, mut ly, mut rx, mut ry) = (cx - nw / 2.0, cy - nh / 2.0, cx + nw / 2.0, cy + nh / 2.0);
    if lx < 0.0 {
        rx -= lx;
        lx = 0.0;
    }
    if ly < 0.0 {
        ry -= ly;
        ly = 0.0;
    }
    if rx > wf {
        lx -= rx - wf;
        rx = wf;
    }
    if ry > hf {
        ly -= ry - hf;
        ry = hf;
    }
    (lx as i64, ly as i64, rx as i64, ry as i64)
}

/// The 80×80 patch a model of crop scale `scale` sees, as RGB.
pub fn patch(image: &RgbImage, face: &Detection, scale: f64) -> RgbImage {
    let (lx, ly, rx, ry) = crop_window(face, image.width(), image.height(), scale);
    let region = Region {
        x: lx.max(0) as u32,
        y: ly.max(0) as u32,
        w: (rx - lx + 1).clamp(1, image.width() as i64) as u32,
        h: (ry - ly + 1).clamp(1, image.height() as i64) as u32,
    };
    let mut out = RgbImage::new(SIDE, SIDE);
    resize_region(image, region, SIDE, SIDE, |dx, dy, c, v| out.get_pixel_mut(dx as u32, dy as u32).0[c] = v);
    out
}

fn softmax(logits: &[f32]) -> [f64; 3] {
    let max = logits.iter().fold(f32::MIN, |a, b| a.max(*b)) as f64;
    let exp: Vec<f64> = logits.iter().map(|v| (*v as f64 - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    [exp[0] / sum, exp[1] / sum, exp[2] / sum]
}

impl AntiSpoof {
    pub fn load(paths: &[&Path]) -> Result<Self, ModelError> {
        let mut models = Vec::new();
        for path in paths {
            let interface = |message: String| ModelError::Interface { path: path.to_path_buf(), message };
            let scale = scale_from_name(path).ok_or_else(|| {
                interface("the file name must start with the crop scale, e.g. 2.7_80x80_MiniFASNetV2.onnx".into())
            })?;
            let session = open_single_threaded(path)?;
            let input = session.inputs().first().ok_or_else(|| interface("the model declares no input".into()))?;
            let input_name = input.name().to_string();
            models.push(Model { session, input_name, scale });
        }
        Ok(Self { models, input: Array4::zeros((1, 3, SIDE as usize, SIDE as usize)) })
    }

    /// The 80×80 model input for one model: BGR, CHW, 0–255.
    fn fill(&mut self, image: &RgbImage, face: &Detection, scale: f64) {
        let plane = (SIDE * SIDE) as usize;
        let out = self.input.as_slice_mut().expect("allocated contiguous");
        for (i, px) in patch(image, face, scale).pixels().enumerate() {
            for c in 0..3 {
                out[(2 - c) * plane + i] = px.0[c] as f32;
            }
        }
    }

    pub fn score(&mut self, image: &RgbImage, face: &Detection) -> Result<LivenessScore, InferenceError> {
        let mut pred = [0.0f64; 3];
        for i in 0..self.models.len() {
            let scale = self.models[i].scale;
            self.fill(image, face, scale);
            let model = &mut self.models[i];
            let input = TensorRef::from_array_view(&self.input).map_err(InferenceError::run("liveness"))?;
            let outputs = model
                .session
                .run(ort::inputs![model.input_name.as_str() => input])
                .map_err(InferenceError::run("liveness"))?;
            let (_, logits) = outputs[0].try_extract_tensor::<f32>().map_err(InferenceError::run("liveness"))?;
            if logits.len() != 3 {
                return Err(InferenceError::Output {
                    model: "liveness",
                    detail: format!("{} logits, expected 3", logits.len()),
                });
            }
            for (p, s) in pred.iter_mut().zip(softmax(logits)) {
                *p += s;
            }
        }
        let label = (0..3).max_by(|a, b| pred[*a].total_cmp(&pred[*b])).unwrap_or(0) as u8;
        Ok(LivenessScore { p_real: pred[1] / self.models.len() as f64, label })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(bbox: [f32; 4]) -> Detection {
        Detection { bbox, score: 0.9, landmarks: [[0.0; 2]; 5], pose: None, shape: None }
    }

    #[test]
    fn the_window_is_clamped_and_shifted_inside_never_clipped() {
        // The T1 sample: a face box of 179×242 in a 480×640 photo; the scale clamps to (W-1)/w.
        let t1 = face([117.73986, 109.57731, 296.46118, 351.2592]);
        assert_eq!(crop_window(&t1, 480, 640, 2.7), (0, 0, 472, 639));
        // A small face in the middle keeps its full 2.7× window.
        let small = face([100.0, 100.0, 119.0, 119.0]);
        assert_eq!(crop_window(&small, 400, 400, 2.7), (83, 83, 137, 137));
    }

    #[test]
    fn scales_come_from_the_file_names() {
        assert_eq!(scale_from_name(Path::new("m/2.7_80x80_MiniFASNetV2.onnx")), Some(2.7));
        assert_eq!(scale_from_name(Path::new("4_0_0_80x80_MiniFASNetV1SE.onnx")), Some(4.0));
        assert_eq!(scale_from_name(Path::new("MiniFASNet.onnx")), None);
    }
}
