//! A compact fingerprint of one capture of a face, to recognise the same capture sent again
//! re-encoded, rescaled, cropped by a few pixels, mirrored or brightness-shifted, while two real
//! captures of the same person stay apart.
//!
//! Two parts, both bit strings compared by Hamming distance:
//! - a perceptual hash of the aligned face (the recognizer's 112×112 input): grey levels with their
//!   best-fitting plane removed (a uniform brightness change or a lighting ramp moves nothing),
//!   a 32×32 DCT, and the signs of its 8×8 lowest frequencies but the constant one against their
//!   median. Alignment puts eyes and mouth at fixed places, so crops and rescales barely move it; a
//!   mirror image flips the sign of every odd horizontal frequency, so the mirrored hash is derived
//!   from the same coefficients.
//! - a sketch of the embedding (of the face and its mirror image, summed): the signs of 1,024 fixed
//!   random projections (SimHash, Charikar 2002), whose Hamming distance estimates the angle between
//!   two embeddings (bits differ with probability angle/π). 1,024 bits because the estimate's
//!   spread shrinks with the bit count: at 256 bits copies and new photos overlapped on the dev set.
//!
//! Neither can be turned back into a photo; the sketch is still derived biometric data (it compares
//! faces coarsely), so the replay memory keeps it only for REPLAY_WINDOW_SECS (PRIVACY.md).

use image::RgbImage;
use image::imageops::FilterType;

use super::embed::Embedding;

const SIDE: usize = 32;
const LOW: usize = 8;
/// Bits of the embedding sketch.
pub const SKETCH_BITS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// Perceptual hash of the aligned face, and of its mirror image.
    pub hash: u64,
    pub mirrored: u64,
    /// Embedding sketch, [`SKETCH_BITS`] bits.
    pub sketch: [u64; SKETCH_BITS / 64],
}

impl Fingerprint {
    /// `embedding` and `mirrored`: the recognizer's embeddings of the aligned face and of its
    /// mirror image; the sketch is of their sum, the same for a photo and its mirrored copy.
    pub fn of(aligned: &RgbImage, embedding: &Embedding, mirrored: &Embedding) -> Self {
        let (hash, mirrored_hash) = perceptual_hash(aligned);
        let both: Vec<f32> = embedding.as_slice().iter().zip(mirrored.as_slice()).map(|(a, b)| a + b).collect();
        Self { hash, mirrored: mirrored_hash, sketch: sketch(&both) }
    }

    /// The Hamming distance of the face hashes, the other taken as it is or mirrored (whichever
    /// is closer), and of the sketches.
    pub fn distance(&self, other: &Fingerprint) -> (u32, u32) {
        let hash = (self.hash ^ other.hash).count_ones().min((self.hash ^ other.mirrored).count_ones());
        let sketch = self.sketch.iter().zip(&other.sketch).map(|(a, b)| (a ^ b).count_ones()).sum();
        (hash, sketch)
    }

    /// 48 bytes as 96 hex digits: how the replay memory stores it.
    pub fn to_hex(&self) -> String {
        let mut out = format!("{:016x}{:016x}", self.hash, self.mirrored);
        for word in self.sketch {
            out.push_str(&format!("{word:016x}"));
        }
        out
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 16 * (2 + SKETCH_BITS / 64) || !text.is_ascii() {
            return None;
        }
        let word = |i: usize| u64::from_str_radix(&text[i * 16..(i + 1) * 16], 16).ok();
        let mut sketch = [0u64; SKETCH_BITS / 64];
        for (i, slot) in sketch.iter_mut().enumerate() {
            *slot = word(2 + i)?;
        }
        Some(Self { hash: word(0)?, mirrored: word(1)?, sketch })
    }
}

fn perceptual_hash(aligned: &RgbImage) -> (u64, u64) {
    let small = image::imageops::resize(aligned, SIDE as u32, SIDE as u32, FilterType::Triangle);
    let mut grey: Vec<f64> =
        small.pixels().map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64).collect();
    remove_plane(&mut grey);
    let coefficients = dct_low(&grey);
    // The constant term is gone with the plane; the rest against their median.
    let rest: Vec<f64> = coefficients[1..].to_vec();
    let mut sorted = rest.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let (mut hash, mut mirrored) = (0u64, 0u64);
    for (i, &c) in rest.iter().enumerate() {
        let u = (i + 1) % LOW;
        // Mirroring the image negates every coefficient of odd horizontal frequency.
        let m = if u % 2 == 1 { -c } else { c };
        hash |= u64::from(c > median) << i;
        mirrored |= u64::from(m > median) << i;
    }
    (hash, mirrored)
}

/// Subtracts the least-squares plane a + b·x + c·y (x and y centred, so the three fits are independent).
fn remove_plane(values: &mut [f64]) {
    let n = values.len() as f64;
    let centre = (SIDE as f64 - 1.0) / 2.0;
    let (mut sum, mut sx, mut sy, mut xx) = (0.0, 0.0, 0.0, 0.0);
    for (i, v) in values.iter().enumerate() {
        let (x, y) = ((i % SIDE) as f64 - centre, (i / SIDE) as f64 - centre);
        sum += v;
        sx += v * x;
        sy += v * y;
        xx += x * x;
    }
    let (a, b, c) = (sum / n, sx / xx, sy / xx);
    for (i, v) in values.iter_mut().enumerate() {
        let (x, y) = ((i % SIDE) as f64 - centre, (i / SIDE) as f64 - centre);
        *v -= a + b * x + c * y;
    }
}

/// The 8×8 lowest coefficients of the 2-D DCT-II, row-major by (v, u), u the horizontal frequency.
fn dct_low(values: &[f64]) -> Vec<f64> {
    let basis = |k: usize, n: usize| ((std::f64::consts::PI / SIDE as f64) * (n as f64 + 0.5) * k as f64).cos();
    let mut rows = vec![0.0; SIDE * LOW];
    for y in 0..SIDE {
        for u in 0..LOW {
            rows[y * LOW + u] = (0..SIDE).map(|x| values[y * SIDE + x] * basis(u, x)).sum();
        }
    }
    let mut out = vec![0.0; LOW * LOW];
    for v in 0..LOW {
        for u in 0..LOW {
            out[v * LOW + u] = (0..SIDE).map(|y| rows[y * LOW + u] * basis(v, y)).sum();
        }
    }
    out
}

/// The signs of fixed random projections of the embedding. The projections come from a fixed
/// seed (SplitMix64), so every instance and every restart computes the same sketch.
fn sketch(embedding: &[f32]) -> [u64; SKETCH_BITS / 64] {
    let mut state = 0x5eed_fa5e_0000_0001u64 ^ embedding.len() as u64;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = [0u64; SKETCH_BITS / 64];
    for bit in 0..SKETCH_BITS {
        // Uniform in [-1, 1): direction, not length, is what a sign projection needs; a cube's
        // diagonal bias is immaterial at these dimensions for telling 0.95 from 0.7.
        let dot: f64 = embedding.iter().map(|&e| e as f64 * ((next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0)).sum();
        out[bit / 64] |= u64::from(dot > 0.0) << (bit % 64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth random picture: energy spread over many low frequencies, as a face's is.
    fn face(seed: u32) -> RgbImage {
        let waves: Vec<(f32, f32, f32)> = (0..16)
            .map(|k| {
                let r = |m: u32| (((seed * 7919 + k * 104_729 + m * 15_485_863) % 1000) as f32) / 1000.0;
                (r(1) * 0.25, r(2) * 0.25, r(3) * std::f32::consts::TAU)
            })
            .collect();
        RgbImage::from_fn(112, 112, |x, y| {
            let v: f32 = waves.iter().map(|(fx, fy, p)| (x as f32 * fx + y as f32 * fy + p).sin() * 9.0).sum();
            let v = (v + 128.0).clamp(0.0, 255.0) as u8;
            image::Rgb([v, v.saturating_sub(10), v / 2])
        })
    }

    fn embedding(seed: u32) -> Embedding {
        Embedding::from_raw((0..128).map(|i| ((i * 7 + seed * 13) as f32).sin()).collect()).unwrap()
    }

    #[test]
    fn a_mirror_image_hashes_as_the_mirrored_hash() {
        let image = face(3);
        let flipped = image::imageops::flip_horizontal(&image);
        let (a, b) = (
            Fingerprint::of(&image, &embedding(1), &embedding(2)),
            Fingerprint::of(&flipped, &embedding(2), &embedding(1)),
        );
        assert!((a.mirrored ^ b.hash).count_ones() <= 4, "{}", (a.mirrored ^ b.hash).count_ones());
        assert_eq!(a.distance(&b).1, 0);
    }

    #[test]
    fn brightness_and_a_ramp_do_not_move_the_hash() {
        let image = face(5);
        let ramped = RgbImage::from_fn(112, 112, |x, y| {
            let p = image.get_pixel(x, y).0;
            image::Rgb(p.map(|v| (v as f32 * 0.8 + x as f32 * 0.3 + 10.0).min(255.0) as u8))
        });
        let (a, b) = (
            Fingerprint::of(&image, &embedding(1), &embedding(1)),
            Fingerprint::of(&ramped, &embedding(1), &embedding(1)),
        );
        assert!(a.distance(&b).0 <= 4, "{:?}", a.distance(&b));
    }

    #[test]
    fn different_faces_and_embeddings_are_far_apart() {
        let (a, b) = (
            Fingerprint::of(&face(1), &embedding(1), &embedding(1)),
            Fingerprint::of(&face(9), &embedding(40), &embedding(40)),
        );
        let (hash, sketch) = a.distance(&b);
        assert!(hash > 12 && sketch > 60, "{hash} {sketch}");
    }

    #[test]
    fn hex_round_trips() {
        let a = Fingerprint::of(&face(2), &embedding(2), &embedding(3));
        assert_eq!(Fingerprint::from_hex(&a.to_hex()), Some(a));
        assert_eq!(Fingerprint::from_hex("zz"), None);
    }
}
