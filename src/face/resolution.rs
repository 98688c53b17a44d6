//! At what resolution each stage looks at a photo: the adaptive pipeline's choices, with the reasons.
//!
//! The reference pipeline decodes every photo in full and letterboxes it into one square canvas
//! (640²): a 250 px LFW crop is upscaled 6.5× in pixels, which costs time and loses faces SCRFD finds
//! at the photo's own size, while a 2.3 MB phone photo is decoded in full only to be shrunk.

use serde::Serialize;

use super::letterbox::Region;

/// Which pipeline the engine runs (PIPELINE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PipelineMode {
    /// Decode what detection needs, detect at the photo's own size (never upscaled), a second pass
    /// at another scale when no face was found, and a finer decode when the face is small.
    #[default]
    Adaptive,
    /// InsightFace's pipeline step by step (full decode, one square canvas): the number-by-number
    /// tests against `../shared/faces/reference` run in this mode.
    Reference,
}

/// Pixels between the eyes (of a frontal face, see `Detection::face_scale`) the subject needs in
/// the image the crop is taken from. ArcFace's 112 px template has 35; with this margin the
/// alignment never upscales, and the quality measure (the face box, up to 128 px) sees full detail.
pub const DETAIL_SCALE: f32 = 48.0;

fn up_to_32(v: f32) -> u32 {
    ((v.round() as u32).div_ceil(32) * 32).max(32)
}

/// The detector canvas for a `width`×`height` image: its own size rounded up to multiples of 32,
/// shrunk (keeping the aspect) so the longer side is at most `max_side`, never enlarged beyond that
/// rounding. A non-square canvas also skips the letterbox padding.
pub fn native_canvas(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let shrink = (max_side as f32 / width.max(height) as f32).min(1.0);
    let (w, h) = (up_to_32(width as f32 * shrink), up_to_32(height as f32 * shrink));
    (w.min(max_side), h.min(max_side))
}

/// The coarse canvas's longer side: a face large enough to matter in a photo bigger than this is
/// found here at a sixth of the full canvas's cost (3 ms against 17–24 ms for det_500m on one
/// core), and located again by [`refine_region`] if it is small there.
pub const COARSE_SIDE: u32 = 256;

/// The detector canvases to try, in order, until one finds a face: at most two runs for a photo
/// without a face. A large photo is looked at coarsely first, then at its own size up to the full
/// canvas (small faces); a small one at its own size, then as the reference pipeline sees it
/// (upscaled into the full square canvas), which finds some faces the native size misses. The flag
/// says the first pass was the coarse one (its small faces are then refined).
pub fn passes(width: u32, height: u32, max_side: u32) -> ([(u32, u32); 2], bool) {
    let native = native_canvas(width, height, max_side);
    let coarse = native_canvas(width, height, COARSE_SIDE.min(max_side));
    if width.max(height) > COARSE_SIDE * 5 / 4 && coarse != native {
        ([coarse, native], true)
    } else if native.0.max(native.1) < max_side {
        ([native, (max_side, max_side)], false)
    } else {
        ([native, native_canvas(width, height, (max_side / 2).max(32))], false)
    }
}

/// A face box at least this long (canvas pixels) is located precisely enough where it was found: on
/// the dev set, faces located at this size or larger give no more false matches or non-matches
/// than the reference pipeline's at 640 (`tests/pipeline/adaptive.rs`).
pub const PRECISE_FACE: f32 = 64.0;

/// The canvas side a small coarse face is refined at: its doubled box then puts the face at about
/// [`PRECISE_FACE`] pixels.
pub const REFINE_SIDE: u32 = 192;

/// Where to look again for a face found small on the coarse canvas: its box doubled around its
/// centre, clamped to the image, and the canvas for that region (its own size, never more than
/// [`REFINE_SIDE`]).
pub fn refine_region(bbox: [f32; 4], width: u32, height: u32) -> (Region, (u32, u32)) {
    let [x1, y1, x2, y2] = bbox;
    let half = (x2 - x1).max(y2 - y1).max(1.0);
    let (cx, cy) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
    let clamp = |v: f32, max: u32| v.round().clamp(0.0, max as f32) as u32;
    let (left, top) = (clamp(cx - half, width), clamp(cy - half, height));
    let (right, bottom) = (clamp(cx + half, width), clamp(cy + half, height));
    let region = Region { x: left, y: top, w: (right - left).max(1), h: (bottom - top).max(1) };
    (region, native_canvas(region.w, region.h, REFINE_SIDE))
}

/// The longer side a finer decode needs so that a face of `face_scale` px at full resolution keeps
/// [`DETAIL_SCALE`] px.
pub fn detail_side(full_long_side: u32, face_scale: f32) -> u32 {
    let ratio = (DETAIL_SCALE / face_scale.max(1.0)).min(1.0);
    (full_long_side as f32 * ratio).ceil() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_photo_is_detected_at_its_own_size() {
        assert_eq!(native_canvas(250, 250, 640), (256, 256));
        assert_eq!(native_canvas(320, 240, 640), (320, 256));
    }

    #[test]
    fn a_large_photo_is_shrunk_into_the_canvas_keeping_its_aspect() {
        assert_eq!(native_canvas(1382, 1868, 640), (480, 640));
        assert_eq!(native_canvas(4000, 1000, 640), (640, 160));
        assert_eq!(native_canvas(640, 640, 640), (640, 640));
    }

    #[test]
    fn a_large_photo_is_seen_coarsely_first_and_a_small_one_as_the_reference_does_second() {
        assert_eq!(passes(934, 691, 640), ([(256, 192), (640, 480)], true));
        assert_eq!(passes(250, 250, 640), ([(256, 256), (640, 640)], false));
        assert_eq!(passes(320, 240, 640), ([(320, 256), (640, 640)], false));
        assert_eq!(passes(400, 300, 640), ([(256, 192), (416, 320)], true));
    }

    #[test]
    fn a_face_is_refined_in_twice_its_box_clamped_to_the_image() {
        let (region, canvas) = refine_region([100.0, 100.0, 200.0, 220.0], 1000, 800);
        assert_eq!(region, Region { x: 30, y: 40, w: 240, h: 240 });
        assert_eq!(canvas, (192, 192));
        let (edge, _) = refine_region([0.0, 0.0, 50.0, 50.0], 1000, 800);
        assert_eq!((edge.x, edge.y, edge.w, edge.h), (0, 0, 75, 75));
    }

    #[test]
    fn a_small_face_asks_for_a_finer_decode_and_a_large_one_for_none() {
        assert_eq!(detail_side(2000, 24.0), 2000);
        assert_eq!(detail_side(2000, 96.0), 1000);
        assert_eq!(detail_side(2000, 400.0), 240);
    }
}
