//! Flat presentations: a photo as a printed sheet (or a phone's screen) held in front of the camera
//! and turned or tilted as a plane, seen by a pinhole camera, optionally bent like a curved print,
//! then tinted, noised, blurred and re-encoded as a camera pipeline would. What the planarity check
//! must refuse. Shared by the pipeline and API tests.

use image::{Rgb, RgbImage};

/// How the sheet is held and what the camera does to it.
#[derive(Debug, Clone, Copy)]
pub struct Sheet {
    /// Turn about the vertical axis and tilt about the horizontal one, degrees.
    pub yaw: f32,
    pub pitch: f32,
    /// Curvature of the sheet along its width (1/px of the photo's width; 0 is flat). A print
    /// held at its sides bows by about a tenth of its width at 0.4.
    pub bend: f32,
    /// The screen's colour reflected by the sheet (15 % of it over the whole frame).
    pub tint: Option<[f32; 3]>,
    /// Uniform noise amplitude per channel (grey levels) and its seed.
    pub noise: f32,
    pub seed: u32,
    /// A 3×3 box blur.
    pub blur: bool,
}

impl Default for Sheet {
    fn default() -> Self {
        Self { yaw: 0.0, pitch: 0.0, bend: 0.0, tint: None, noise: 0.0, seed: 1, blur: false }
    }
}

/// The frame side a phone camera at 480 px sends (the SDK's default), landscape.
pub const FRAME: (u32, u32) = (640, 480);

/// `photo` as a sheet held about 3.5 of its half-widths from the camera, filling 60 % of the
/// frame's width when square to it.
pub fn render(photo: &RgbImage, sheet: &Sheet) -> RgbImage {
    let (w, h) = FRAME;
    let f = w as f64; // about 53° across: a phone's front camera
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let scale = 0.6 * w as f64 / photo.width() as f64; // frame px per photo px, at the sheet's distance
    let distance = f;
    let (cyw, syw) = ((sheet.yaw as f64).to_radians().cos(), (sheet.yaw as f64).to_radians().sin());
    let (cp, sp) = ((sheet.pitch as f64).to_radians().cos(), (sheet.pitch as f64).to_radians().sin());
    // R = Ry(yaw) · Rx(pitch): the sheet's axes in camera coordinates.
    let ex = [cyw, 0.0, -syw];
    let ey = [syw * sp, cp, cyw * sp];
    let n = [syw * cp, -sp, cyw * cp];
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let centre = [0.0, 0.0, distance];
    let bend = sheet.bend as f64 / (photo.width() as f64 * scale);
    let mut out = RgbImage::from_pixel(w, h, Rgb([96, 92, 88]));
    for y in 0..h {
        for x in 0..w {
            let d = [(x as f64 - cx) / f, (y as f64 - cy) / f, 1.0];
            let (nd, nc) = (dot(n, d), dot(n, centre));
            if nd.abs() < 1e-9 {
                continue;
            }
            // The ray meets the sheet where its offset along the normal is bend·u²: a few fixed-point
            // steps from the flat plane's answer.
            let mut t = nc / nd;
            let mut u = 0.0;
            for _ in 0..4 {
                let p = [t * d[0] - centre[0], t * d[1] - centre[1], t * d[2] - centre[2]];
                u = dot(ex, p);
                t = (nc + bend * u * u) / nd;
            }
            let p = [t * d[0] - centre[0], t * d[1] - centre[1], t * d[2] - centre[2]];
            let v = dot(ey, p);
            let (px, py) = (u / scale + photo.width() as f64 / 2.0, v / scale + photo.height() as f64 / 2.0);
            if let Some(c) = bilinear(photo, px, py) {
                out.put_pixel(x, y, Rgb(c));
            }
        }
    }
    finish(out, sheet)
}

fn bilinear(img: &RgbImage, x: f64, y: f64) -> Option<[u8; 3]> {
    if x < 0.0 || y < 0.0 || x >= (img.width() - 1) as f64 || y >= (img.height() - 1) as f64 {
        return None;
    }
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
    let p = |dx: u32, dy: u32| img.get_pixel(x0 + dx, y0 + dy).0;
    Some(std::array::from_fn(|c| {
        let top = p(0, 0)[c] as f32 * (1.0 - fx) + p(1, 0)[c] as f32 * fx;
        let bottom = p(0, 1)[c] as f32 * (1.0 - fx) + p(1, 1)[c] as f32 * fx;
        (top * (1.0 - fy) + bottom * fy).round() as u8
    }))
}

/// The tint, the blur and the noise, in the order light and a camera apply them.
fn finish(mut img: RgbImage, sheet: &Sheet) -> RgbImage {
    if let Some(colour) = sheet.tint {
        for p in img.pixels_mut() {
            for (value, light) in p.0.iter_mut().zip(colour) {
                *value = (*value as f32 * (1.0 - 0.15) + light * 0.15).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    if sheet.blur {
        img = image::imageops::blur(&img, 1.0);
    }
    if sheet.noise > 0.0 {
        let mut state = sheet.seed.wrapping_mul(2_654_435_761).max(1);
        for p in img.pixels_mut() {
            for c in 0..3 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let r = (state as f32 / u32::MAX as f32 * 2.0 - 1.0) * sheet.noise;
                p.0[c] = (p.0[c] as f32 + r).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    img
}
