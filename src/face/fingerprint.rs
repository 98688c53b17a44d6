//! A compact fingerprint of one capture of a face, to recognise the same capture sent again
//! re-encoded, rescaled, cropped by a few pixels, mirrored or brightness-shifted, while two real
//! captures of the same person stay apart.
//!
//! Two parts, both bit strings compared by Hamming distance:
//! - a perceptual hash of the aligned face (the recognizer's 112×112 input), in the manner of PDQ
//!   (Meta's photo-matching hash: a 64×64 grey image, its 16×16 lowest DCT frequencies, each
//!   against their median): grey levels with their best-fitting plane removed (a uniform brightness
//!   change or a lighting ramp moves nothing), then the signs of the 255 coefficients but the
//!   constant one against their median. Alignment puts eyes and mouth at fixed places, so crops and
//!   rescales barely move it. A mirror image negates every odd horizontal frequency, so the
//!   mirrored copy's hash is derived from the same coefficients: mirrors are caught in the pixel
//!   domain, with no second recognizer run.
//! - a sketch of the embedding: the signs of 1,024 fixed random projections (SimHash, Charikar
//!   2002), whose Hamming distance estimates the angle between two embeddings (bits differ with
//!   probability angle/π). It tells a copy of this person's photo from a photo of someone else at
//!   the same pose. A recognizer's embeddings of a face and its mirror image differ about as much as
//!   two photos of one person, so a mirrored copy is judged on the hash alone
//!   (`service/liveness/replay.rs`).
//!
//! Neither can be turned back into a photo; the sketch is still derived biometric data (it compares
//! faces coarsely), so the replay memory keeps it only for REPLAY_WINDOW_SECS (PRIVACY.md).

use image::RgbImage;
use image::imageops::FilterType;

use super::embed::Embedding;

const SIDE: usize = 64;
const LOW: usize = 16;
/// Words of the face hash: 255 bits used (every low frequency but the constant one).
const HASH_WORDS: usize = LOW * LOW / 64;
/// Bits of the embedding sketch.
pub const SKETCH_BITS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// Perceptual hash of the aligned face, and of its mirror image.
    pub hash: [u64; HASH_WORDS],
    pub mirrored: [u64; HASH_WORDS],
    /// Embedding sketch, [`SKETCH_BITS`] bits.
    pub sketch: [u64; SKETCH_BITS / 64],
}

/// How far apart two fingerprints are, in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Distance {
    /// Between the face hashes as they are.
    pub hash: u32,
    /// Between one face hash and the other's mirror image.
    pub mirrored: u32,
    /// Between the embedding sketches.
    pub sketch: u32,
}

fn hamming(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

impl Fingerprint {
    /// `embedding`: the recognizer's embedding of the aligned face.
    pub fn of(aligned: &RgbImage, embedding: &Embedding) -> Self {
        let (hash, mirrored) = perceptual_hash(aligned);
        Self { hash, mirrored, sketch: sketch(embedding.as_slice()) }
    }

    pub fn distance(&self, other: &Fingerprint) -> Distance {
        Distance {
            hash: hamming(&self.hash, &other.hash),
            mirrored: hamming(&self.hash, &other.mirrored),
            sketch: hamming(&self.sketch, &other.sketch),
        }
    }

    /// 192 bytes as 384 hex digits: how the replay memory stores it.
    pub fn to_hex(&self) -> String {
        self.hash.iter().chain(&self.mirrored).chain(&self.sketch).map(|w| format!("{w:016x}")).collect()
    }

    /// `None` for anything else, fingerprints of an earlier format included (they are forgotten).
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 16 * (2 * HASH_WORDS + SKETCH_BITS / 64) || !text.is_ascii() {
            return None;
        }
        let word = |i: usize| u64::from_str_radix(&text[i * 16..(i + 1) * 16], 16).ok();
        let mut out = Self { hash: [0; HASH_WORDS], mirrored: [0; HASH_WORDS], sketch: [0; SKETCH_BITS / 64] };
        let slots = out.hash.iter_mut().chain(out.mirrored.iter_mut()).chain(out.sketch.iter_mut());
        for (i, slot) in slots.enumerate() {
            *slot = word(i)?;
        }
        Some(out)
    }
}

fn perceptual_hash(aligned: &RgbImage) -> ([u64; HASH_WORDS], [u64; HASH_WORDS]) {
    let small = image::imageops::resize(aligned, SIDE as u32, SIDE as u32, FilterType::Triangle);
    let mut grey: Vec<f64> =
        small.pixels().map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64).collect();
    remove_plane(&mut grey);
    let coefficients = dct_low(&grey);
    // The constant term is gone with the plane. Mirroring the image negates every coefficient of
    // odd horizontal frequency: the mirror image's coefficients, from the same transform.
    let rest: Vec<f64> = coefficients[1..].to_vec();
    let flipped: Vec<f64> =
        rest.iter().enumerate().map(|(i, &c)| if ((i + 1) % LOW) % 2 == 1 { -c } else { c }).collect();
    (signs(&rest), signs(&flipped))
}

/// Each coefficient against the median of them all, as bits.
fn signs(coefficients: &[f64]) -> [u64; HASH_WORDS] {
    let mut sorted = coefficients.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let mut bits = [0u64; HASH_WORDS];
    for (i, &c) in coefficients.iter().enumerate() {
        bits[i / 64] |= u64::from(c > median) << (i % 64);
    }
    bits
}

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

/// The 16×16 lowest coefficients of the 2-D DCT-II, row-major by (v, u), u the horizontal frequency.
fn dct_low(values: &[f64]) -> Vec<f64> {
    // The cosines once, not once per product (80k calls of `cos` a face, most of the hash's cost);
    // the same values, summed in the same order.
    let mut table = [0.0f64; LOW * SIDE];
    for (i, b) in table.iter_mut().enumerate() {
        let (k, n) = (i / SIDE, i % SIDE);
        *b = ((std::f64::consts::PI / SIDE as f64) * (n as f64 + 0.5) * k as f64).cos();
    }
    let basis = |k: usize, n: usize| table[k * SIDE + n];
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
    fn the_cosine_table_gives_the_coefficients_of_the_cosines_it_replaced_bit_for_bit() {
        let values: Vec<f64> = (0..SIDE * SIDE).map(|i| ((i * 37) % 101) as f64 - 50.5).collect();
        let basis = |k: usize, n: usize| ((std::f64::consts::PI / SIDE as f64) * (n as f64 + 0.5) * k as f64).cos();
        let rows: Vec<f64> = (0..SIDE * LOW)
            .map(|i| (0..SIDE).map(|x| values[(i / LOW) * SIDE + x] * basis(i % LOW, x)).sum())
            .collect();
        let direct: Vec<f64> =
            (0..LOW * LOW).map(|i| (0..SIDE).map(|y| rows[y * LOW + i % LOW] * basis(i / LOW, y)).sum()).collect();
        assert_eq!(dct_low(&values), direct);
    }

    #[test]
    fn a_mirror_image_hashes_as_the_mirrored_hash() {
        let image = face(3);
        let flipped = image::imageops::flip_horizontal(&image);
        let (a, b) = (Fingerprint::of(&image, &embedding(1)), Fingerprint::of(&flipped, &embedding(2)));
        let d = a.distance(&b);
        assert!(d.mirrored <= 8, "{d:?}");
        assert!(d.hash > 40, "a mirror image is another picture until it is flipped back: {d:?}");
    }

    #[test]
    fn brightness_and_a_ramp_do_not_move_the_hash() {
        let image = face(5);
        let ramped = RgbImage::from_fn(112, 112, |x, y| {
            let p = image.get_pixel(x, y).0;
            image::Rgb(p.map(|v| (v as f32 * 0.8 + x as f32 * 0.3 + 10.0).min(255.0) as u8))
        });
        let (a, b) = (Fingerprint::of(&image, &embedding(1)), Fingerprint::of(&ramped, &embedding(1)));
        assert!(a.distance(&b).hash <= 12, "{:?}", a.distance(&b));
    }

    #[test]
    fn different_faces_and_embeddings_are_far_apart() {
        let (a, b) = (Fingerprint::of(&face(1), &embedding(1)), Fingerprint::of(&face(9), &embedding(40)));
        let d = a.distance(&b);
        assert!(d.hash > 50 && d.mirrored > 50 && d.sketch > 60, "{d:?}");
    }

    #[test]
    fn hex_round_trips_and_the_old_format_is_forgotten() {
        let a = Fingerprint::of(&face(2), &embedding(2));
        assert_eq!(Fingerprint::from_hex(&a.to_hex()), Some(a));
        assert_eq!(Fingerprint::from_hex("zz"), None);
        assert_eq!(Fingerprint::from_hex(&"0".repeat(16 * 18)), None, "the 64-bit hash format");
    }
}
