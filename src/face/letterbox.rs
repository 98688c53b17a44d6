//! The detector's input: the photo resized into a fixed canvas the way InsightFace (OpenCV) does it,
//! so that boxes and landmarks match the reference to a fraction of a pixel.

use image::RgbImage;
use ndarray::Array4;

/// The model input: the image resized keeping its aspect ratio into the top-left of a zero canvas,
/// RGB, (x − 127.5) / 128, NCHW.
pub struct Letterbox {
    pub tensor: Array4<f32>,
    /// Model pixels per original pixel.
    pub scale: f32,
}

pub fn letterbox(image: &RgbImage, canvas_w: u32, canvas_h: u32) -> Letterbox {
    let (w, h) = image.dimensions();
    letterbox_region(image, Region { x: 0, y: 0, w, h }, canvas_w, canvas_h)
}

/// As [`letterbox`], for a region of the image (the scale is then in model pixels per region pixel).
pub fn letterbox_region(image: &RgbImage, region: Region, canvas_w: u32, canvas_h: u32) -> Letterbox {
    let (new_w, new_h, scale) = fit(region, canvas_w, canvas_h);
    let (cw, ch) = (canvas_w as usize, canvas_h as usize);
    let pad = (0.0 - 127.5) / 128.0;
    let mut tensor = Array4::<f32>::from_elem((1, 3, ch, cw), pad);
    let plane = cw * ch;
    let out = tensor.as_slice_mut().expect("freshly allocated arrays are contiguous");
    resize_region(image, region, new_w, new_h, |dx, dy, c, v| {
        out[c * plane + dy * cw + dx] = (v as f32 - 127.5) / 128.0;
    });
    Letterbox { tensor, scale }
}

/// The size `region` takes in the canvas keeping its aspect ratio, and the scale (canvas pixels per
/// region pixel).
fn fit(region: Region, canvas_w: u32, canvas_h: u32) -> (u32, u32, f32) {
    let im_ratio = region.h as f64 / region.w as f64;
    let model_ratio = canvas_h as f64 / canvas_w as f64;
    // Truncation as in InsightFace (`int(...)`), so the scale matches theirs exactly.
    let (new_w, new_h) = if im_ratio > model_ratio {
        (((canvas_h as f64 / im_ratio) as u32).max(1), canvas_h)
    } else {
        (canvas_w, ((canvas_w as f64 * im_ratio) as u32).max(1))
    };
    (new_w, new_h, new_h as f32 / region.h as f32)
}

/// The input of a model that takes NHWC (MediaPipe's): `region` fitted into a `side`² canvas and
/// centred there, as MediaPipe's letterbox does, each value `norm(pixel)`, the padding `norm(0)`.
pub struct CentredLetterbox {
    pub tensor: Array4<f32>,
    /// Canvas pixels per region pixel.
    pub scale: f32,
    /// Where the region's top-left corner lies in the canvas.
    pub offset: (f32, f32),
}

pub fn letterbox_nhwc(image: &RgbImage, region: Region, side: u32, norm: impl Fn(u8) -> f32) -> CentredLetterbox {
    let (new_w, new_h, scale) = fit(region, side, side);
    let (ox, oy) = ((side - new_w) as usize / 2, (side - new_h) as usize / 2);
    let s = side as usize;
    let mut tensor = Array4::<f32>::from_elem((1, s, s, 3), norm(0));
    let out = tensor.as_slice_mut().expect("freshly allocated arrays are contiguous");
    resize_region(image, region, new_w, new_h, |dx, dy, c, v| out[((dy + oy) * s + dx + ox) * 3 + c] = norm(v));
    CentredLetterbox { tensor, scale, offset: (ox as f32, oy as f32) }
}

/// A rectangle of an image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// Resizes `region` of `image` to `out_w`×`out_h` as OpenCV's `cv2.resize(..., INTER_LINEAR)` does
/// for u8 images (half-pixel centres, edge clamping, 11-bit fixed-point weights, rounding), handing
/// each output value to `put(x, y, channel, value)`. The reference pipelines resize this way; a
/// filtered resize would shift detections and liveness scores slightly.
pub fn resize_region(
    image: &RgbImage,
    region: Region,
    out_w: u32,
    out_h: u32,
    mut put: impl FnMut(usize, usize, usize, u8),
) {
    let xs = resize_taps(region.w, out_w);
    let ys = resize_taps(region.h, out_h);
    let src = image.as_raw();
    let stride = image.width() as usize * 3;
    let x0 = region.x as usize * 3;
    for (dy, ty) in ys.iter().enumerate() {
        let row0 = &src[(region.y as usize + ty.i0) * stride + x0..];
        let row1 = &src[(region.y as usize + ty.i1) * stride + x0..];
        for (dx, tx) in xs.iter().enumerate() {
            for c in 0..3 {
                let top = row0[tx.i0 * 3 + c] as i32 * tx.w0 + row0[tx.i1 * 3 + c] as i32 * tx.w1;
                let bottom = row1[tx.i0 * 3 + c] as i32 * tx.w0 + row1[tx.i1 * 3 + c] as i32 * tx.w1;
                // OpenCV's `VResizeLinear` for 8-bit images rounds in two stages, exactly so.
                let v = (((ty.w0 * (top >> 4)) >> 16) + ((ty.w1 * (bottom >> 4)) >> 16) + 2) >> 2;
                put(dx, dy, c, v.clamp(0, 255) as u8);
            }
        }
    }
}

/// Two source indices and 11-bit fixed-point weights for one output coordinate of a bilinear resize.
struct Tap {
    i0: usize,
    i1: usize,
    w0: i32,
    w1: i32,
}

/// Sampling positions of OpenCV's `INTER_LINEAR` resize (half-pixel centres, edge clamping, 2048-step
/// weights), which the reference pipeline uses; a filtered resize would shift detections slightly.
fn resize_taps(src_len: u32, dst_len: u32) -> Vec<Tap> {
    let scale = src_len as f64 / dst_len as f64;
    let last = src_len as i64 - 1;
    (0..dst_len)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut i = f.floor() as i64;
            let mut frac = f - i as f32;
            if i < 0 {
                i = 0;
                frac = 0.0;
            }
            if i >= last {
                i = last;
                frac = 0.0;
            }
            // Each weight rounded on its own, half to even, as OpenCV's `saturate_cast<short>`.
            let (w0, w1) = (((1.0 - frac) * 2048.0).round_ties_even() as i32, (frac * 2048.0).round_ties_even() as i32);
            Tap { i0: i as usize, i1: (i + 1).min(last) as usize, w0, w1 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_keeps_aspect_and_pads_bottom_right() {
        let img = RgbImage::from_pixel(200, 100, image::Rgb([255, 127, 0]));
        let lb = letterbox(&img, 64, 64);
        assert_eq!(lb.scale, 32.0 / 100.0);
        let t = &lb.tensor;
        assert!((t[[0, 0, 0, 0]] - (255.0 - 127.5) / 128.0).abs() < 1e-6);
        assert!((t[[0, 2, 31, 63]] - (0.0 - 127.5) / 128.0).abs() < 1e-6);
        // Row 32 onwards is padding.
        assert!((t[[0, 0, 32, 0]] - (-127.5 / 128.0)).abs() < 1e-6);
    }

    #[test]
    fn resize_taps_match_opencv_half_pixel_centres() {
        let taps = resize_taps(4, 2);
        // dst 0 samples src 0.5: half of pixels 0 and 1.
        assert_eq!((taps[0].i0, taps[0].i1, taps[0].w0), (0, 1, 1024));
        assert_eq!((taps[1].i0, taps[1].i1, taps[1].w0), (2, 3, 1024));
        let up = resize_taps(2, 4);
        assert_eq!((up[0].i0, up[0].w0), (0, 2048));
        assert_eq!((up[3].i0, up[3].w0), (1, 2048));
    }
}
