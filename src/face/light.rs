//! The colour of the light on a face and around it, for the light challenge: the screen shows a
//! sequence of colours, and a face a few tens of centimetres from it takes them on far more than the
//! wall behind it (screen light falls off with the square of the distance).
//!
//! Two mean colours per frame: the face's centre (forehead, cheeks, nose: the box's middle half,
//! where hair and background rarely reach) and the surround (every pixel outside the face box grown
//! by half its size). Sampled on a grid of at most [`GRID`]² points each, so a frame costs
//! microseconds whatever its size.
//!
//! And, where the detector gives FaceMesh's 468 points, the colour at each of them (a 3×3 mean): the
//! same piece of skin in every frame however the head turns, so the shading check
//! (`service::liveness::shading`) can ask whether the screen's light falls on each as its surface's
//! angle to the screen says.

use std::sync::Arc;

use image::RgbImage;

use super::detect::Detection;

/// Samples per side of each region's grid.
const GRID: u32 = 24;

/// Mean linear-ish RGB (0–255 per channel) of the two regions of one frame, and of the skin at each
/// mesh point.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LightSample {
    pub face: [f32; 3],
    pub surround: [f32; 3],
    /// The colour at each of the face's mesh points, in the mesh's order; `None` without a mesh.
    pub points: Option<Arc<[[f32; 3]]>>,
}

impl LightSample {
    /// `None` when the face fills the frame so that nothing is left around it to compare with.
    pub fn measure(image: &RgbImage, face: &Detection) -> Option<Self> {
        let (w, h) = (image.width() as f32, image.height() as f32);
        let [x1, y1, x2, y2] = face.bbox;
        let (bw, bh) = (x2 - x1, y2 - y1);
        let inner = [x1 + bw * 0.25, y1 + bh * 0.25, x2 - bw * 0.25, y2 - bh * 0.25];
        let outer = [x1 - bw * 0.5, y1 - bh * 0.5, x2 + bw * 0.5, y2 + bh * 0.5];
        let face_mean = mean_in(image, inner, |_, _| true)?;
        let outside = |x: f32, y: f32| x < outer[0] || x > outer[2] || y < outer[1] || y > outer[3];
        let surround = mean_in(image, [0.0, 0.0, w, h], outside)?;
        Some(Self { face: face_mean, surround, points: face.shape.as_deref().map(|shape| at_points(image, shape)) })
    }
}

/// The mean colour of the 3×3 pixels around each point (clamped to the image).
fn at_points(image: &RgbImage, shape: &[[f32; 3]]) -> Arc<[[f32; 3]]> {
    let (w, h) = (image.width() as i64, image.height() as i64);
    shape
        .iter()
        .map(|p| {
            let (cx, cy) = (p[0].round() as i64, p[1].round() as i64);
            let mut sum = [0.0f32; 3];
            for y in cy - 1..=cy + 1 {
                for x in cx - 1..=cx + 1 {
                    let px = image.get_pixel(x.clamp(0, w - 1) as u32, y.clamp(0, h - 1) as u32).0;
                    for c in 0..3 {
                        sum[c] += px[c] as f32;
                    }
                }
            }
            sum.map(|s| s / 9.0)
        })
        .collect()
}

/// The mean colour of the grid points inside `area` (clamped to the image) that `keep` accepts;
/// `None` when fewer than a tenth of them are kept.
fn mean_in(image: &RgbImage, area: [f32; 4], keep: impl Fn(f32, f32) -> bool) -> Option<[f32; 3]> {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let [x1, y1, x2, y2] = [area[0].max(0.0), area[1].max(0.0), area[2].min(w - 1.0), area[3].min(h - 1.0)];
    if x2 <= x1 || y2 <= y1 {
        return None;
    }
    let (mut sum, mut count) = ([0.0f32; 3], 0u32);
    for gy in 0..GRID {
        for gx in 0..GRID {
            let x = x1 + (x2 - x1) * (gx as f32 + 0.5) / GRID as f32;
            let y = y1 + (y2 - y1) * (gy as f32 + 0.5) / GRID as f32;
            if !keep(x, y) {
                continue;
            }
            let p = image.get_pixel(x as u32, y as u32).0;
            for c in 0..3 {
                sum[c] += p[c] as f32;
            }
            count += 1;
        }
    }
    (count >= GRID * GRID / 10).then(|| sum.map(|s| s / count as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> Detection {
        Detection { bbox: [80.0, 60.0, 160.0, 160.0], score: 0.9, landmarks: [[0.0; 2]; 5], pose: None, shape: None }
    }

    #[test]
    fn the_face_and_its_surround_are_measured_apart() {
        let image = RgbImage::from_fn(320, 240, |x, y| match (80..160).contains(&x) && (60..160).contains(&y) {
            true => image::Rgb([200, 150, 120]),
            false => image::Rgb([20, 40, 60]),
        });
        let sample = LightSample::measure(&image, &face()).unwrap();
        assert_eq!(sample.face, [200.0, 150.0, 120.0]);
        assert_eq!(sample.surround, [20.0, 40.0, 60.0]);
        // No mesh: no points.
        assert_eq!(sample.points, None);
    }

    #[test]
    fn each_mesh_point_is_read_where_it_sits() {
        let image = RgbImage::from_fn(320, 240, |x, _| image::Rgb([x as u8, 0, 0]));
        let mesh =
            Detection { shape: Some(vec![[100.0, 100.0, 0.0], [200.4, 50.0, 3.0], [0.0, 0.0, 0.0]].into()), ..face() };
        let sample = LightSample::measure(&image, &mesh).unwrap();
        let points = sample.points.unwrap();
        assert_eq!(points[0], [100.0, 0.0, 0.0]);
        assert_eq!(points[1], [200.0, 0.0, 0.0]);
        // At the frame's corner, the pixels beyond it are the edge's.
        assert_eq!(points[2][0], 1.0 / 3.0);
    }

    #[test]
    fn a_face_filling_the_frame_has_no_surround() {
        let image = RgbImage::from_pixel(100, 110, image::Rgb([1, 2, 3]));
        let big =
            Detection { bbox: [0.0, 0.0, 100.0, 110.0], score: 0.9, landmarks: [[0.0; 2]; 5], pose: None, shape: None };
        assert_eq!(LightSample::measure(&image, &big), None);
    }
}
