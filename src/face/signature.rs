//! A small picture of an aligned face, to tell two captures of a face from one capture used twice.
//!
//! The aligned 112×112 crop (the recognizer's input) is brought down to 12×12 grey levels and
//! normalised (zero mean, unit length): coarse enough that a re-encode, a rescale, a brightness
//! change or a slight crop barely move it, since alignment puts the eyes and mouth at fixed places.
//! Two signatures compare by their correlation, −1 to 1; a mirror image is compared by flipping one
//! of them. On its own it also finds two real photos of one pose close; the service pairs it with
//! the embeddings (`service::verify`), and the threshold is calibrated on the dev photos
//! (`tests/pipeline/distinct.rs`). Finer grids (28 px with a 7×7 high-pass was tried) separated
//! mirrored copies worse: landmarks jitter by a pixel or two between a photo and its mirror.

use image::RgbImage;
use image::imageops::FilterType;

const SIDE: usize = 12;

#[derive(Debug, Clone, PartialEq)]
pub struct Signature(Vec<f32>);

impl Signature {
    pub fn of(aligned: &RgbImage) -> Self {
        let small = image::imageops::resize(aligned, SIDE as u32, SIDE as u32, FilterType::Triangle);
        let mut detail: Vec<f32> =
            small.pixels().map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).collect();
        let mean = detail.iter().sum::<f32>() / detail.len() as f32;
        detail.iter_mut().for_each(|v| *v -= mean);
        let norm = detail.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-6);
        detail.iter_mut().for_each(|v| *v /= norm);
        Self(detail)
    }

    /// The signature of the horizontally flipped face.
    pub fn mirrored(&self) -> Self {
        Self(self.0.chunks(SIDE).flat_map(|row| row.iter().rev().copied()).collect())
    }

    pub fn correlation(&self, other: &Signature) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    /// The higher of the correlation with `other` and with its mirror image, and whether the
    /// mirror image was the closer.
    pub fn closeness(&self, other: &Signature) -> (f32, bool) {
        let (same, mirror) = (self.correlation(other), self.correlation(&other.mirrored()));
        if mirror > same { (mirror, true) } else { (same, false) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(seed: u32) -> RgbImage {
        RgbImage::from_fn(112, 112, |x, y| {
            let v = ((x * 7 + y * 13 + seed * 31) % 97 + (x * y + seed) % 53) as u8;
            image::Rgb([v, v.wrapping_add(20), v / 2])
        })
    }

    #[test]
    fn a_copy_and_a_mirror_are_close_and_another_picture_is_not() {
        let a = Signature::of(&pattern(1));
        assert!((a.correlation(&a) - 1.0).abs() < 1e-4);
        let flipped = Signature::of(&image::imageops::flip_horizontal(&pattern(1)));
        let (closeness, mirrored) = a.closeness(&flipped);
        assert!(closeness > 0.99 && mirrored);
        assert!(a.closeness(&Signature::of(&pattern(7))).0 < 0.9);
    }
}
