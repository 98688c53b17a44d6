//! Capture quality of the subject's face: sharpness, exposure and head pose, measured where the
//! face is, at no more than the resolution the recognizer can use.
//!
//! The face region is never upscaled (a small, clear webcam face must not look blurry for being
//! small) and is brought down to [`MAX_SIDE`] when larger (a big photo must not look sharper than
//! the recognizer will ever see it).

use image::RgbImage;
use serde::Serialize;

use super::detect::Detection;
use super::letterbox::{Region, resize_region};

/// The face region's longest side after downscaling; near the recognizer's 112 px.
const MAX_SIDE: u32 = 128;

/// Measured on one face. Yaw and pitch are estimates in degrees from the five landmarks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quality {
    /// Variance of the Laplacian of the face's grey levels: low when blurred.
    pub sharpness: f32,
    /// Mean grey level (0–255) of the face's centre.
    pub brightness: f32,
    /// Share of the face's centre that is clipped white (≥ 250).
    pub clipped: f32,
    /// Positive: the subject turned to their own left (the nose toward the image's right edge).
    pub yaw: f32,
    /// Positive: the head tilted up.
    pub pitch: f32,
}

fn grey(region: &RgbImage) -> Vec<f32> {
    region.pixels().map(|p| 0.299 * p.0[0] as f32 + 0.587 * p.0[1] as f32 + 0.114 * p.0[2] as f32).collect()
}

/// The face box, clamped to the image, at most [`MAX_SIDE`] on its longest side.
fn face_region(image: &RgbImage, face: &Detection) -> Option<RgbImage> {
    let [x1, y1, x2, y2] = face.bbox;
    let (x, y) = (x1.max(0.0) as u32, y1.max(0.0) as u32);
    let w = (x2.min(image.width() as f32) as u32).saturating_sub(x);
    let h = (y2.min(image.height() as f32) as u32).saturating_sub(y);
    if w < 8 || h < 8 {
        return None;
    }
    let shrink = (MAX_SIDE as f32 / w.max(h) as f32).min(1.0);
    let (ow, oh) = (((w as f32 * shrink) as u32).max(8), ((h as f32 * shrink) as u32).max(8));
    let mut out = RgbImage::new(ow, oh);
    resize_region(image, Region { x, y, w, h }, ow, oh, |dx, dy, c, v| {
        out.get_pixel_mut(dx as u32, dy as u32).0[c] = v
    });
    Some(out)
}

/// Yaw and pitch in degrees: the detector's own measurement, or the five-point estimate
/// ([`Detection::head_pose`]).
pub fn pose(face: &Detection) -> (f32, f32) {
    face.head_pose()
}

/// Limits a reference photo must meet. Defaults calibrated on the dev photos
/// (`tests/pipeline/quality.rs`): none of the 134 dev faces is refused, and every blurred, darkened
/// and over-exposed copy of them is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityPolicy {
    /// Dev faces: 35 at the least, median 543; blurred copies at most 8.
    pub min_sharpness: f32,
    /// Dev faces: 74 at the darkest; copies at a fifth of the light at most 39.
    pub min_brightness: f32,
    /// Dev faces: 195 at the brightest.
    pub max_brightness: f32,
    /// Dev faces: at most 1 % clipped; copies with 2.5× the light at least 6 %.
    pub max_clipped: f32,
    /// Dev faces: yaw from −41° to 30°, pitch from −18° to 25° (estimates).
    pub max_yaw: f32,
    pub max_pitch: f32,
}

impl Default for QualityPolicy {
    fn default() -> Self {
        Self {
            min_sharpness: 15.0,
            min_brightness: 50.0,
            max_brightness: 220.0,
            max_clipped: 0.05,
            max_yaw: 45.0,
            max_pitch: 35.0,
        }
    }
}

/// Why a face's capture is not good enough to enrol.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum QualityIssue {
    #[error("the face is too dark (brightness {brightness:.0}, at least {min:.0} needed): add light")]
    TooDark { brightness: f32, min: f32 },
    #[error("the face is over-exposed ({:.0} % clipped white, brightness {brightness:.0}): less light or no flash", clipped * 100.0)]
    Overexposed { brightness: f32, clipped: f32 },
    #[error("the face is blurred (sharpness {sharpness:.1}, at least {min:.1} needed): hold still and focus")]
    Blurry { sharpness: f32, min: f32 },
    #[error("the face is not turned to the camera (yaw {yaw:.0}°, pitch {pitch:.0}°): look straight at it")]
    NotFrontal { yaw: f32, pitch: f32 },
}

impl QualityPolicy {
    /// Exposure first: a dark face also has little contrast, and would otherwise read as blurred.
    pub fn check(&self, q: &Quality) -> Result<(), QualityIssue> {
        if q.brightness < self.min_brightness {
            return Err(QualityIssue::TooDark { brightness: q.brightness, min: self.min_brightness });
        }
        if q.clipped > self.max_clipped || q.brightness > self.max_brightness {
            return Err(QualityIssue::Overexposed { brightness: q.brightness, clipped: q.clipped });
        }
        if q.sharpness < self.min_sharpness {
            return Err(QualityIssue::Blurry { sharpness: q.sharpness, min: self.min_sharpness });
        }
        if q.yaw.abs() > self.max_yaw || q.pitch.abs() > self.max_pitch {
            return Err(QualityIssue::NotFrontal { yaw: q.yaw, pitch: q.pitch });
        }
        Ok(())
    }
}

pub fn measure(image: &RgbImage, face: &Detection) -> Quality {
    let (yaw, pitch) = pose(face);
    let Some(region) = face_region(image, face) else {
        return Quality { sharpness: 0.0, brightness: 0.0, clipped: 0.0, yaw, pitch };
    };
    let (w, h) = (region.width() as usize, region.height() as usize);
    let g = grey(&region);
    let mut laplacian = Vec::with_capacity(w * h);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            laplacian.push(g[i - 1] + g[i + 1] + g[i - w] + g[i + w] - 4.0 * g[i]);
        }
    }
    let mean = laplacian.iter().sum::<f32>() / laplacian.len().max(1) as f32;
    let sharpness = laplacian.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / laplacian.len().max(1) as f32;
    // The centre of the box: skin, eyes and mouth, not hair or background.
    let centre: Vec<f32> =
        (h / 5..h * 4 / 5).flat_map(|y| (w / 5..w * 4 / 5).map(move |x| (y, x))).map(|(y, x)| g[y * w + x]).collect();
    let n = centre.len().max(1) as f32;
    let brightness = centre.iter().sum::<f32>() / n;
    let clipped = centre.iter().filter(|v| **v >= 250.0).count() as f32 / n;
    Quality { sharpness, brightness, clipped, yaw, pitch }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(nose_x: f32) -> Detection {
        Detection {
            bbox: [0.0, 0.0, 100.0, 120.0],
            score: 0.9,
            landmarks: [[30.0, 50.0], [70.0, 50.0], [nose_x, 72.0], [35.0, 90.0], [65.0, 90.0]],
            pose: None,
            shape: None,
        }
    }

    #[test]
    fn the_nose_toward_the_right_edge_is_a_turn_to_the_subjects_left() {
        let (frontal, _) = pose(&face(50.0));
        let (left, _) = pose(&face(62.0));
        let (right, _) = pose(&face(38.0));
        assert!(frontal.abs() < 1.0 && left > 20.0 && right < -20.0, "{frontal} {left} {right}");
    }

    #[test]
    fn a_flat_grey_face_has_no_sharpness() {
        let image = RgbImage::from_pixel(100, 120, image::Rgb([120, 120, 120]));
        let q = measure(&image, &face(50.0));
        assert_eq!(q.sharpness, 0.0);
        assert!((q.brightness - 120.0).abs() < 0.5);
    }
}
