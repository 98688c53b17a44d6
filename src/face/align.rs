//! Five-point alignment to the ArcFace 112x112 template.

use image::RgbImage;

/// Where the eyes, nose and mouth corners of an aligned face sit (InsightFace `arcface_dst`).
pub const ARCFACE_TEMPLATE: [[f32; 2]; 5] =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

pub const CROP_SIZE: u32 = 112;

/// A similarity transform (rotation, uniform scale, translation):
/// `x' = a·x − b·y + tx`, `y' = b·x + a·y + ty`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f64,
    pub b: f64,
    pub tx: f64,
    pub ty: f64,
}

impl Similarity {
    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        [self.a * p[0] - self.b * p[1] + self.tx, self.b * p[0] + self.a * p[1] + self.ty]
    }

    pub fn inverse(&self) -> Option<Self> {
        let det = self.a * self.a + self.b * self.b;
        if !(det.is_finite() && det > 1e-12) {
            return None;
        }
        let (a, b) = (self.a / det, -self.b / det);
        Some(Self { a, b, tx: -(a * self.tx - b * self.ty), ty: -(b * self.tx + a * self.ty) })
    }
}

/// Least-squares similarity from `src` to `dst` (Umeyama 1991 without reflection).
///
/// In 2-D, Umeyama's solution restricted to proper rotations is the complex linear regression
/// `dst = α·src + β` with `α = Σ conj(s̃)·d̃ / Σ |s̃|²` over centred points, so it needs no SVD and
/// equals scikit-image's `SimilarityTransform.estimate`, which InsightFace's `norm_crop` uses.
pub fn estimate_similarity(src: &[[f32; 2]], dst: &[[f32; 2]]) -> Option<Similarity> {
    let n = src.len().min(dst.len());
    if n < 2 {
        return None;
    }
    let mean = |pts: &[[f32; 2]]| {
        let (sx, sy) = pts[..n].iter().fold((0.0, 0.0), |(x, y), p| (x + p[0] as f64, y + p[1] as f64));
        [sx / n as f64, sy / n as f64]
    };
    let (ms, md) = (mean(src), mean(dst));
    let (mut num_re, mut num_im, mut den) = (0.0, 0.0, 0.0);
    for (s, d) in src[..n].iter().zip(&dst[..n]) {
        let (sx, sy) = (s[0] as f64 - ms[0], s[1] as f64 - ms[1]);
        let (dx, dy) = (d[0] as f64 - md[0], d[1] as f64 - md[1]);
        num_re += sx * dx + sy * dy;
        num_im += sx * dy - sy * dx;
        den += sx * sx + sy * sy;
    }
    if den < 1e-12 {
        return None;
    }
    let (a, b) = (num_re / den, num_im / den);
    Some(Similarity { a, b, tx: md[0] - (a * ms[0] - b * ms[1]), ty: md[1] - (b * ms[0] + a * ms[1]) })
}

/// Warps `image` by `forward` (image → crop coordinates) into a `size`×`size` crop.
///
/// Bilinear sampling with a zero border, with source coordinates quantised to 1/32 pixel as OpenCV's
/// `warpAffine` does (INTER_BITS = 5), so crops match the reference's to within rounding.
pub fn warp(image: &RgbImage, forward: &Similarity, size: u32) -> Option<RgbImage> {
    let inv = forward.inverse()?;
    let (w, h) = (image.width() as i64, image.height() as i64);
    let src = image.as_raw();
    let stride = (w * 3) as usize;
    let mut out = RgbImage::new(size, size);
    let row_len = size as usize * 3;
    for (y, row) in out.chunks_exact_mut(row_len).enumerate() {
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let [sx, sy] = inv.apply([x as f64, y as f64]);
            let (qx, qy) = (round_f64(sx * 32.0), round_f64(sy * 32.0));
            let (x0, y0) = (qx >> 5, qy >> 5);
            let (fx, fy) = ((qx & 31) as f32 / 32.0, (qy & 31) as f32 / 32.0);
            let blend = |a: f32, b: f32, c: f32, d: f32| {
                let (top, bottom) = (a * (1.0 - fx) + b * fx, c * (1.0 - fx) + d * fx);
                round_u8(top * (1.0 - fy) + bottom * fy)
            };
            if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
                // All four neighbours inside (nearly every pixel of a face crop): no border tests.
                let at = y0 as usize * stride + x0 as usize * 3;
                let (top, bottom) = (&src[at..at + 6], &src[at + stride..at + stride + 6]);
                for c in 0..3 {
                    px[c] = blend(top[c] as f32, top[c + 3] as f32, bottom[c] as f32, bottom[c + 3] as f32);
                }
                continue;
            }
            let sample = |xi: i64, yi: i64, c: usize| -> f32 {
                if xi < 0 || yi < 0 || xi >= w || yi >= h { 0.0 } else { src[((yi * w + xi) * 3) as usize + c] as f32 }
            };
            for (c, value) in px.iter_mut().enumerate() {
                *value =
                    blend(sample(x0, y0, c), sample(x0 + 1, y0, c), sample(x0, y0 + 1, c), sample(x0 + 1, y0 + 1, c));
            }
        }
    }
    Some(out)
}

/// `v.round() as i64` (half away from zero), without the libm call `round` compiles to on x86-64's
/// baseline (no SSE4.1): adding the largest double below one half, with `v`'s sign, and truncating
/// is exact for every double (the expansion LLVM itself uses where it has a truncate instruction).
fn round_f64(v: f64) -> i64 {
    (v + 0.499_999_999_999_999_94_f64.copysign(v)) as i64
}

/// `v.round().clamp(0.0, 255.0) as u8` for a blend of pixel values (never below zero), the same way.
fn round_u8(v: f32) -> u8 {
    (v + 0.499_999_97_f32) as u8
}

/// The 112x112 ArcFace crop for a face's five landmarks, or `None` for degenerate landmarks.
pub fn norm_crop(image: &RgbImage, landmarks: &[[f32; 2]; 5]) -> Option<RgbImage> {
    let transform = estimate_similarity(landmarks, &ARCFACE_TEMPLATE)?;
    warp(image, &transform, CROP_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_similarity_exactly() {
        let truth = Similarity { a: 0.8, b: -0.3, tx: 12.0, ty: -4.0 };
        let src: Vec<[f32; 2]> = ARCFACE_TEMPLATE.to_vec();
        let dst: Vec<[f32; 2]> =
            src.iter().map(|p| truth.apply([p[0] as f64, p[1] as f64])).map(|q| [q[0] as f32, q[1] as f32]).collect();
        let est = estimate_similarity(&src, &dst).unwrap();
        for (got, want) in [(est.a, truth.a), (est.b, truth.b), (est.tx, truth.tx), (est.ty, truth.ty)] {
            assert!((got - want).abs() < 1e-4, "{est:?}");
        }
    }

    #[test]
    fn inverse_undoes_the_transform() {
        let t = Similarity { a: 1.5, b: 0.5, tx: 3.0, ty: 7.0 };
        let p = t.inverse().unwrap().apply(t.apply([10.0, -2.0]));
        assert!((p[0] - 10.0).abs() < 1e-9 && (p[1] + 2.0).abs() < 1e-9);
    }

    #[test]
    fn identical_landmarks_are_degenerate() {
        assert!(estimate_similarity(&[[5.0, 5.0]; 5], &ARCFACE_TEMPLATE).is_none());
    }

    /// The warp as first written: every neighbour bounds-checked, `round` from the library.
    fn reference_warp(image: &RgbImage, forward: &Similarity, size: u32) -> Option<RgbImage> {
        let inv = forward.inverse()?;
        let (w, h) = (image.width() as i64, image.height() as i64);
        let src = image.as_raw();
        let mut out = RgbImage::new(size, size);
        for (x, y, px) in out.enumerate_pixels_mut() {
            let [sx, sy] = inv.apply([x as f64, y as f64]);
            let (qx, qy) = ((sx * 32.0).round() as i64, (sy * 32.0).round() as i64);
            let (x0, y0) = (qx >> 5, qy >> 5);
            let (fx, fy) = ((qx & 31) as f32 / 32.0, (qy & 31) as f32 / 32.0);
            let sample = |xi: i64, yi: i64, c: usize| -> f32 {
                if xi < 0 || yi < 0 || xi >= w || yi >= h { 0.0 } else { src[((yi * w + xi) * 3) as usize + c] as f32 }
            };
            for c in 0..3 {
                let top = sample(x0, y0, c) * (1.0 - fx) + sample(x0 + 1, y0, c) * fx;
                let bottom = sample(x0, y0 + 1, c) * (1.0 - fx) + sample(x0 + 1, y0 + 1, c) * fx;
                px.0[c] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
            }
        }
        Some(out)
    }

    #[test]
    fn the_warp_equals_the_reference_warp_pixel_for_pixel() {
        let image =
            RgbImage::from_fn(97, 61, |x, y| image::Rgb([(x * 7 + y) as u8, (y * 13) as u8, ((x ^ y) * 5) as u8]));
        for k in 0..200u32 {
            let angle = k as f64 * 0.37;
            let scale = 0.3 + (k % 17) as f64 * 0.11;
            let t = Similarity {
                a: scale * angle.cos(),
                b: scale * angle.sin(),
                tx: (k % 23) as f64 * 1.7 - 20.0,
                ty: (k % 19) as f64 * 2.3 - 15.0,
            };
            assert_eq!(warp(&image, &t, 48), reference_warp(&image, &t, 48), "transform {k}");
        }
        for v in [0.5, 1.5, 2.5, -0.5, -1.5, 0.499_999_999_999_999_94, -0.499_999_999_999_999_94, 4503599627370497.0] {
            assert_eq!(round_f64(v), v.round() as i64, "{v}");
        }
        for v in [0.0f32, 0.5, 1.5, 254.5, 255.4, 255.5, 300.0, 0.499_999_97] {
            assert_eq!(round_u8(v), v.round().clamp(0.0, 255.0) as u8, "{v}");
        }
    }

    #[test]
    fn identity_warp_copies_pixels_and_zero_fills_outside() {
        let mut img = RgbImage::new(4, 4);
        img.put_pixel(1, 2, image::Rgb([200, 100, 50]));
        let shift = Similarity { a: 1.0, b: 0.0, tx: 1.0, ty: 0.0 };
        let out = warp(&img, &shift, 6).unwrap();
        assert_eq!(out.get_pixel(2, 2).0, [200, 100, 50]);
        assert_eq!(out.get_pixel(5, 5).0, [0, 0, 0]);
    }
}
