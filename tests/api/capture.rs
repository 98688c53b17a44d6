//! Continuous captures for the challenge tests, made from the real recording in
//! `../shared/faces/video/pexels_woman/` (472 frames at 23.976 fps), and the attacks against them.
//!
//! A genuine capture is cut from stretches where she really turns: a level stretch (frames
//! 359–385), her turn to her own left (386–399, then 435–446 coming back) and to her right (444–458,
//! played back for the return: reversed real motion is real motion). The recording has no
//! nod deep enough from a level start, so these tests ask for the two turns (CHALLENGE_MOVES and
//! CHALLENGE_STEPS are the material's limit, not a loosened threshold). The recording does not
//! respond to screen colours: [`lit_shaped`] synthesises the reflection (the face lit by the plan's
//! colour by its surface's angle to the screen, the surround barely), and says so where it is used;
//! [`lit`] paints the colours over the face as an attacker's frames would carry them.

use std::sync::OnceLock;

use faceauth::face::engine::EngineSpec;
use faceauth::face::{FaceEngine, ModelProfile, Purpose, runtime};
use faceauth::service::liveness::shading;
use image::RgbImage;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::helpers::*;

pub const VIDEO: &str = "video/pexels_woman";
/// The recording's frame interval, ms.
pub const FRAME_MS: f64 = 1000.0 / 23.976;

/// The moves and steps the recording can answer.
pub const CAPTURE_ENV: [(&str, &str); 3] =
    [("LIVENESS", "challenge"), ("CHALLENGE_MOVES", "turn_left,turn_right"), ("CHALLENGE_STEPS", "2")];

/// A burst as the SDK sends it: JPEG frames and their times.
#[derive(Clone)]
pub struct Capture {
    pub frames: Vec<Vec<u8>>,
    pub times: Vec<f64>,
}

pub fn frame(i: usize) -> Vec<u8> {
    static FRAMES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FRAMES.get_or_init(|| (0..472).map(|i| face(&format!("{VIDEO}/frame_{i:04}.jpg"))).collect())[i].clone()
}

/// The photo she enrols with: frame 240, smiling at the camera, five seconds before the capture's
/// first frame. (The folder's `reference.jpg`, frame 126, has her hand over her face: the
/// recording's stretch around it is no level start.)
pub fn reference() -> Vec<u8> {
    frame(240)
}

fn run(from: usize, to: usize) -> Vec<usize> {
    if from <= to { (from..=to).collect() } else { (to..=from).rev().collect() }
}

/// A genuine answer to two turns, or three (the default plan's length): runs of frame numbers, each
/// played in order.
pub fn genuine_runs(steps: &[String]) -> Vec<Vec<usize>> {
    let level = run(359, 385);
    match steps.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["turn_left", "turn_right"] => vec![level, run(386, 399), run(435, 458), run(457, 436)],
        // Her left turn's return, played backwards, is a left turn; then forwards, its return.
        ["turn_right", "turn_left"] => vec![level, run(443, 458), run(457, 433), run(434, 452)],
        // Three steps (the default plan's length) from the same stretches: each turn's return runs on
        // into the next turn, the last comes back to level, and she sways there until the plan ends.
        ["turn_left", "turn_right", "turn_left"] => vec![
            level,
            run(386, 399),
            run(435, 458),
            run(457, 446),
            run(447, 450),
            run(449, 433),
            run(434, 446),
            run(445, 442),
            run(443, 446),
            run(445, 442),
            run(443, 446),
        ],
        ["turn_right", "turn_left", "turn_right"] => vec![
            level,
            run(443, 458),
            run(457, 433),
            run(434, 440),
            run(439, 436),
            run(437, 458),
            run(457, 444),
            run(445, 447),
            run(446, 444),
            run(445, 447),
            run(446, 444),
        ],
        other => panic!("the recording answers two or three alternating turns, not {other:?}"),
    }
}

/// The frame numbers of a genuine answer, in order.
pub fn genuine_frames(steps: &[String]) -> Vec<usize> {
    genuine_runs(steps).concat()
}

/// The frames at the recording's own pace.
pub fn at_native_rate(numbers: &[usize]) -> Capture {
    Capture {
        frames: numbers.iter().map(|&i| frame(i)).collect(),
        times: (0..numbers.len()).map(|k| k as f64 * FRAME_MS).collect(),
    }
}

/// A genuine capture: the runs joined where her face sits at the end of the run before. She moved
/// about the frame between the stretches that answer the moves, so each later run is translated
/// by a constant offset (its framing changed; its motion, frame to frame, is the recording's).
pub fn genuine(steps: &[String]) -> Capture {
    let mut engine = engine();
    let centre = |engine: &mut FaceEngine, i: usize| {
        let b = engine.analyze(&frame(i), Purpose::Verify).unwrap().face.bbox;
        ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
    };
    let (mut frames, mut offset, mut last) = (Vec::new(), (0.0f32, 0.0f32), None::<usize>);
    for numbers in genuine_runs(steps) {
        if let Some(last) = last {
            let ((ax, ay), (bx, by)) = (centre(&mut engine, last), centre(&mut engine, numbers[0]));
            // Consecutive frames of the recording need no offset of their own.
            if numbers[0].abs_diff(last) > 1 {
                offset = (offset.0 + ax - bx, offset.1 + ay - by);
            }
        }
        for &i in &numbers {
            frames.push(match offset {
                (0.0, 0.0) => frame(i),
                (dx, dy) => jpeg(&translated(&image::load_from_memory(&frame(i)).unwrap().to_rgb8(), dx, dy), 95),
            });
        }
        last = numbers.last().copied();
    }
    let times = (0..frames.len()).map(|k| k as f64 * FRAME_MS).collect();
    Capture { frames, times }
}

/// The picture moved by (dx, dy) pixels, the edges repeated into the gap.
fn translated(image: &RgbImage, dx: f32, dy: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    let (dx, dy) = (dx.round() as i64, dy.round() as i64);
    RgbImage::from_fn(w, h, |x, y| {
        let sx = (x as i64 - dx).clamp(0, w as i64 - 1) as u32;
        let sy = (y as i64 - dy).clamp(0, h as i64 - 1) as u32;
        *image.get_pixel(sx, sy)
    })
}

/// The steps a session or challenge reply asks for.
pub fn steps_of(reply: &Value) -> Vec<String> {
    reply["steps"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

/// ONNX Runtime, once for the test's engines.
fn init_runtime() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let ort = std::env::var("ORT_DYLIB_PATH")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| root().join(".ort/libonnxruntime.so.1.31.1"));
        runtime::init(&ort, runtime::Threads::PerSession(1)).unwrap();
    });
}

/// The default pack's detection stage (BlazeFace + FaceMesh), for the relief the light falls on.
fn mesh_engine() -> std::sync::MutexGuard<'static, FaceEngine> {
    static ENGINE: OnceLock<std::sync::Mutex<FaceEngine>> = OnceLock::new();
    ENGINE.get_or_init(|| load_engine("face_detection_short_range.onnx")).lock().unwrap_or_else(|e| e.into_inner())
}

/// The test's own tool for placing synthesised light (the service under test runs the default
/// pack; where this engine puts the box only decides where the light falls).
fn engine() -> std::sync::MutexGuard<'static, FaceEngine> {
    static ENGINE: OnceLock<std::sync::Mutex<FaceEngine>> = OnceLock::new();
    ENGINE.get_or_init(|| load_engine("det_500m.onnx")).lock().unwrap_or_else(|e| e.into_inner())
}

fn load_engine(detector: &str) -> std::sync::Mutex<FaceEngine> {
    init_runtime();
    let recognizer = root().join("models/arcface_mobilefacenet_128d.onnx");
    let sha = faceauth::face::models::sha256_file(&recognizer).unwrap();
    let spec = EngineSpec::with_defaults(
        root().join("models").join(detector),
        root().join("models/face_landmark.onnx"),
        recognizer,
        ModelProfile::by_sha256(&sha).unwrap().clone(),
    );
    std::sync::Mutex::new(FaceEngine::load(&spec).unwrap())
}

pub fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(image).unwrap();
    out
}

/// The plan's screen colour at `t_ms` (the `capture.light` of a session or challenge reply).
pub fn colour_at(plan: &Value, t_ms: f64) -> Option<[f32; 3]> {
    plan["light"].as_array()?.iter().find_map(|f| {
        let (at, ms) = (f["at_ms"].as_f64()?, f["ms"].as_f64()?);
        let css = f["css"].as_str()?;
        let channel = |i: usize| u8::from_str_radix(&css[1 + 2 * i..3 + 2 * i], 16).unwrap() as f32;
        (t_ms >= at && t_ms < at + ms).then(|| [channel(0), channel(1), channel(2)])
    })
}

/// SYNTHESISED, and PAINTED: the screen's colours laid over the face `lag_ms` late, as an attacker
/// tints injected frames: each pixel of the face's box (grown by a tenth) takes on `face` of the
/// screen's colour, whatever way the skin faces, and the rest of the frame `surround` of it. With
/// `face == surround` it is a tint of the whole frame.
pub fn lit(capture: &Capture, plan: &Value, face: f32, surround: f32, lag_ms: f64) -> Capture {
    lit_by(capture, plan, surround, lag_ms, boxed, |x, y, at| {
        let [x1, y1, x2, y2] = at.bbox;
        let (pad_x, pad_y) = ((x2 - x1) * 0.1, (y2 - y1) * 0.1);
        (x >= x1 - pad_x && x <= x2 + pad_x && y >= y1 - pad_y && y <= y2 + pad_y).then_some(face)
    })
}

/// SYNTHESISED, as a screen at arm's length lights a head (the recordings do not respond to screen
/// colours): each point of the face takes on up to `face` of the screen's colour by the cosine of
/// its surface's angle to the screen (Lambert), `lag_ms` late; the rest of the frame `surround`.
/// The surface is the face's own, as FaceMesh sees it in that frame (the default pack's detection
/// stage): the nose's sides take on less than its ridge, and as she turns, the side turning toward
/// the screen more.
pub fn lit_shaped(capture: &Capture, plan: &Value, face: f32, surround: f32, lag_ms: f64) -> Capture {
    lit_by(capture, plan, surround, lag_ms, meshed, |x, y, at| at.relief.as_ref()?.at(x, y).map(|f| face * f))
}

/// SYNTHESISED, and PAINTED with a falloff: the screen's colours over the face, strongest at its
/// centre and fading to its edge (`face` × (1 − r²) in an ellipse over the face's box), whatever
/// way the skin faces: an attacker's tint that imitates a reflection's outline, and a sphere's
/// shading, but not the face's relief.
pub fn painted_falloff(capture: &Capture, plan: &Value, face: f32, surround: f32, lag_ms: f64) -> Capture {
    lit_by(capture, plan, surround, lag_ms, boxed, |x, y, at| {
        let [x1, y1, x2, y2] = at.bbox;
        let (u, v) = ((x - (x1 + x2) / 2.0) / ((x2 - x1) * 0.6), (y - (y1 + y2) / 2.0) / ((y2 - y1) * 0.6));
        let r = u * u + v * v;
        (r < 1.0).then_some(surround + (face - surround) * (1.0 - r))
    })
}

/// Where the face is in one frame, as the light's synthesis needs it.
pub struct FaceAt {
    pub bbox: [f32; 4],
    /// How squarely the skin faces the screen at each pixel the mesh covers.
    pub relief: Option<Relief>,
}

/// A face's facing (the cosine of its surface's angle to the screen) per pixel, from its mesh.
pub struct Relief {
    origin: (i64, i64),
    width: i64,
    facing: Vec<f32>,
}

impl Relief {
    /// Each point's facing (its neighbours' plane, as `shading.rs` measures it) over the pixels
    /// nearer to it than to any other point, up to one and a half mesh spacings away.
    fn of(shape: &[[f32; 3]]) -> Relief {
        let facing = shading::facing(shape, &shading::neighbours(shape));
        let mut gaps: Vec<f32> = shape
            .iter()
            .enumerate()
            .map(|(i, p)| {
                shape
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
                    .fold(f32::MAX, f32::min)
            })
            .collect();
        gaps.sort_by(f32::total_cmp);
        let reach = 1.5 * gaps[gaps.len() / 2];
        let (lo_x, lo_y) = shape.iter().fold((f32::MAX, f32::MAX), |(x, y), p| (x.min(p[0]), y.min(p[1])));
        let (hi_x, hi_y) = shape.iter().fold((f32::MIN, f32::MIN), |(x, y), p| (x.max(p[0]), y.max(p[1])));
        let origin = ((lo_x - reach).floor() as i64, (lo_y - reach).floor() as i64);
        let (width, height) =
            ((hi_x + reach).ceil() as i64 - origin.0 + 1, (hi_y + reach).ceil() as i64 - origin.1 + 1);
        let mut best = vec![f32::MAX; (width * height) as usize];
        let mut map = vec![f32::NAN; (width * height) as usize];
        for (p, f) in shape.iter().zip(&facing) {
            let r = reach.ceil() as i64;
            let (cx, cy) = (p[0].round() as i64, p[1].round() as i64);
            for y in cy - r..=cy + r {
                for x in cx - r..=cx + r {
                    let d = (x as f32 - p[0]).hypot(y as f32 - p[1]);
                    let k = ((y - origin.1) * width + (x - origin.0)) as usize;
                    if d <= reach && d < best[k] {
                        best[k] = d;
                        map[k] = *f;
                    }
                }
            }
        }
        Relief { origin, width, facing: map }
    }

    fn at(&self, x: f32, y: f32) -> Option<f32> {
        let (x, y) = (x as i64 - self.origin.0, y as i64 - self.origin.1);
        if x < 0 || y < 0 || x >= self.width {
            return None;
        }
        self.facing.get((y * self.width + x) as usize).copied().filter(|f| !f.is_nan())
    }
}

/// The face's box, by the test's own engine.
fn boxed(bytes: &[u8]) -> Option<FaceAt> {
    Some(FaceAt { bbox: engine().analyze(bytes, Purpose::Verify).ok()?.face.bbox, relief: None })
}

/// The face's box and relief, by the default pack's detection stage (BlazeFace + FaceMesh).
fn meshed(bytes: &[u8]) -> Option<FaceAt> {
    let face = mesh_engine().analyze(bytes, Purpose::Verify).ok()?.face;
    Some(FaceAt { bbox: face.bbox, relief: face.shape.as_deref().map(Relief::of) })
}

/// Each frame lit by the screen's colour `lag_ms` before it: where `face_strength(x, y, face)` says
/// the pixel is on the face (the face as `find` locates it), by that strength; elsewhere by `surround`.
fn lit_by(
    capture: &Capture,
    plan: &Value,
    surround: f32,
    lag_ms: f64,
    find: fn(&[u8]) -> Option<FaceAt>,
    face_strength: impl Fn(f32, f32, &FaceAt) -> Option<f32>,
) -> Capture {
    let frames = capture
        .frames
        .iter()
        .zip(&capture.times)
        .map(|(bytes, &t)| {
            let Some(screen) = colour_at(plan, (t - lag_ms).max(0.0)) else { return bytes.clone() };
            let mut image = image::load_from_memory(bytes).unwrap().to_rgb8();
            let at = find(bytes);
            for (x, y, p) in image.enumerate_pixels_mut() {
                let strength = at.as_ref().and_then(|at| face_strength(x as f32, y as f32, at)).unwrap_or(surround);
                for (value, light) in p.0.iter_mut().zip(screen) {
                    // Light adds to what the skin reflects, in proportion to the skin's own brightness.
                    let own = *value as f32;
                    *value = (own * (1.0 - strength) + strength * light * (own / 255.0 + 0.5)).clamp(0.0, 255.0) as u8;
                }
            }
            jpeg(&image, 90)
        })
        .collect();
    Capture { frames, times: capture.times.clone() }
}

/// The verify form of a capture, with a session or a challenge.
pub fn form(user: &str, capture: &Capture, session_token: Option<&str>, challenge_id: Option<&str>) -> Form {
    let mut form = Form::new().text("user_id", user.to_string());
    if let Some(token) = session_token {
        form = form.text("session_token", token.to_string());
    }
    if let Some(id) = challenge_id {
        form = form.text("challenge_id", id.to_string());
    }
    for bytes in &capture.frames {
        form = form.part("capture", Part::bytes(bytes.clone()).file_name("frame.jpg").mime_str("image/jpeg").unwrap());
    }
    form.text("capture_ms", serde_json::to_string(&capture.times).unwrap())
}

/// A slideshow answering `plan` (a session's or challenge's `capture`) with three stills: the
/// frontal one, then from 400 ms after each prompt until 1 s after it the still for its turn
/// (`stills[1]` for turn_left, `stills[2]` for turn_right), at `fps`.
pub fn slideshow_answer(stills: &[Vec<u8>; 3], plan: &Value, fps: f64) -> Capture {
    let prompts: Vec<(f64, usize)> = plan["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["at_ms"].as_f64().unwrap(), if p["step"] == "turn_left" { 1 } else { 2 }))
        .collect();
    let which = |t: f64| prompts.iter().find(|(at, _)| t >= at + 400.0 && t < at + 1000.0).map_or(0, |p| p.1);
    slideshow(stills, fps, plan["duration_ms"].as_f64().unwrap(), which)
}

/// A slideshow of stills at `fps` over `duration_ms`, each still shown while `which(t)` names it
/// (fitted into 640×480), every frame jittered (shifted and scaled by up to 2 %, noised) and re-encoded at quality 85–95.
pub fn slideshow(stills: &[Vec<u8>], fps: f64, duration_ms: f64, which: impl Fn(f64) -> usize) -> Capture {
    // At a camera's size: the stills fitted into 640×480, as a webcam frame would carry them.
    let decoded: Vec<RgbImage> = stills
        .iter()
        .map(|s| image::load_from_memory(s).unwrap().resize(640, 480, image::imageops::FilterType::Triangle).to_rgb8())
        .collect();
    let n = (duration_ms / 1000.0 * fps).ceil() as usize + 1;
    let mut frames = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    for k in 0..n {
        let t = k as f64 * 1000.0 / fps + ((k * 37 % 11) as f64 - 5.0);
        let still = &decoded[which(t)];
        let (w, h) = still.dimensions();
        let scale = 1.0 + ((k * 13 % 9) as f32 - 4.0) / 200.0;
        let (dx, dy) = (((k * 7) % 5) as f32 - 2.0, ((k * 11) % 5) as f32 - 2.0);
        let jittered = RgbImage::from_fn(w, h, |x, y| {
            let sx = ((x as f32 - w as f32 / 2.0) / scale + w as f32 / 2.0 + dx).clamp(0.0, w as f32 - 1.0);
            let sy = ((y as f32 - h as f32 / 2.0) / scale + h as f32 / 2.0 + dy).clamp(0.0, h as f32 - 1.0);
            let mut p = *still.get_pixel(sx as u32, sy as u32);
            let noise = ((x * 31 + y * 17 + k as u32 * 7) % 9) as i16 - 4;
            p.0 = p.0.map(|v| (v as i16 + noise).clamp(0, 255) as u8);
            p
        });
        frames.push(jpeg(&jittered, 85 + (k % 11) as u8));
        times.push(t.max(0.0));
    }
    Capture { frames, times }
}

/// A photo held as a sheet, slightly bowed, turned smoothly toward each prompt's side (35° at most,
/// from 300 ms after the prompt, back by its end) at `fps`, noised, blurred and re-encoded: a print
/// answering `plan` (a session's or challenge's `capture`) as a flat picture can.
pub fn sheet_answer(photo: &RgbImage, plan: &Value, fps: f64) -> Capture {
    let prompts: Vec<(f64, f32)> = plan["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["at_ms"].as_f64().unwrap(), if p["step"] == "turn_left" { -1.0 } else { 1.0 }))
        .collect();
    let duration = plan["duration_ms"].as_f64().unwrap();
    let (mut frames, mut times) = (Vec::new(), Vec::new());
    for k in 0..=(duration / 1000.0 * fps).ceil() as usize {
        let t = k as f64 * 1000.0 / fps;
        let yaw = prompts
            .iter()
            .find(|(at, _)| t >= at + 300.0 && t < at + 1300.0)
            .map_or(0.0, |(at, side)| side * 35.0 * (((t - at - 300.0) / 1000.0 * std::f64::consts::PI).sin() as f32));
        let sheet =
            crate::flat::Sheet { yaw, bend: 0.2, noise: 5.0, blur: true, seed: k as u32 + 1, ..Default::default() };
        frames.push(jpeg(&crate::flat::render(photo, &sheet), 85));
        times.push(t);
    }
    Capture { frames, times }
}

/// One frontal photo animated as a 2.5-D surface through `plan`'s moves (a frame injection that
/// costs an afternoon): fitted into 640×480, every pixel of the head moved by its depth times the
/// sine of the angle (an ellipsoid over the face's box, the nose raised by a bump), turned 30° toward
/// each prompt's side (nodded for `look_up`/`look_down`) from 300 ms after the prompt and back by its
/// end, at `fps`, noised and re-encoded. Its parallax is a head's, by construction.
pub fn warped_answer(photo: &RgbImage, plan: &Value, fps: f64) -> Capture {
    let photo =
        image::DynamicImage::ImageRgb8(photo.clone()).resize(640, 480, image::imageops::FilterType::Triangle).to_rgb8();
    let found = engine().analyze(&jpeg(&photo, 95), Purpose::Verify).unwrap();
    let [x1, y1, x2, y2] = found.face.bbox;
    let (cx, cy, rx, ry) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0, (x2 - x1) * 0.6, (y2 - y1) * 0.6);
    let nose = found.face.landmarks[2];
    let sigma = (x2 - x1) * 0.12;
    let depth = |x: f32, y: f32| {
        let (u, v) = ((x - cx) / rx, (y - cy) / ry);
        let head = (1.0 - u * u - v * v).max(0.0).sqrt() * rx;
        let bump = 0.5 * rx * (-((x - nose[0]).powi(2) + (y - nose[1]).powi(2)) / (2.0 * sigma * sigma)).exp();
        head + bump
    };
    let moves: Vec<(f64, &str)> = plan["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["at_ms"].as_f64().unwrap(), p["step"].as_str().unwrap()))
        .collect();
    let duration = plan["duration_ms"].as_f64().unwrap();
    let (w, h) = photo.dimensions();
    let (mut frames, mut times) = (Vec::new(), Vec::new());
    for k in 0..=(duration / 1000.0 * fps).ceil() as usize {
        let t = k as f64 * 1000.0 / fps;
        let (mut yaw, mut nod) = (0.0f32, 0.0f32);
        for &(at, step) in &moves {
            if t >= at + 300.0 && t < at + 1300.0 {
                let angle = 45f32.to_radians() * ((t - at - 300.0) / 1000.0 * std::f64::consts::PI).sin() as f32;
                match step {
                    "turn_left" => yaw = angle,
                    "turn_right" => yaw = -angle,
                    "look_up" => nod = angle,
                    _ => nod = -angle,
                }
            }
        }
        let frame = RgbImage::from_fn(w, h, |x, y| {
            let (x, y) = (x as f32, y as f32);
            let d = depth(x, y);
            // A hand holding the device: a sub-pixel tremor, so no two frames are the same picture.
            let (jx, jy) = (((k * 7) % 5) as f32 * 0.3 - 0.6, ((k * 11) % 5) as f32 * 0.3 - 0.6);
            let (sx, sy) = (x - d * yaw.sin() + jx, y + d * nod.sin() + jy);
            let mut p = sample(&photo, sx, sy);
            let noise = ((x as u32 * 31 + y as u32 * 17 + k as u32 * 7) % 7) as i16 - 3;
            p.0 = p.0.map(|v| (v as i16 + noise).clamp(0, 255) as u8);
            p
        });
        frames.push(jpeg(&frame, 88));
        times.push(t);
    }
    Capture { frames, times }
}

/// Bilinear sample of `image` at (x, y), the edges repeated.
fn sample(image: &RgbImage, x: f32, y: f32) -> image::Rgb<u8> {
    let (w, h) = (image.width() as f32 - 1.0, image.height() as f32 - 1.0);
    let (x, y) = (x.clamp(0.0, w), y.clamp(0.0, h));
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |dx: f32, dy: f32| image.get_pixel((x0 + dx).min(w) as u32, (y0 + dy).min(h) as u32).0.map(f32::from);
    let (a, b, c, d) = (at(0.0, 0.0), at(1.0, 0.0), at(0.0, 1.0), at(1.0, 1.0));
    image::Rgb([0, 1, 2].map(|i| {
        let top = a[i] + (b[i] - a[i]) * fx;
        let bottom = c[i] + (d[i] - c[i]) * fx;
        (top + (bottom - top) * fy).round() as u8
    }))
}

/// The capture at `fps` (frames nearest each tick of that rate), each frame brought to the SDK's
/// size (480 px on the longer side, JPEG quality 85).
pub fn at_rate(capture: &Capture, fps: f64) -> Capture {
    let last = *capture.times.last().unwrap();
    let mut picked = Vec::new();
    let mut t = 0.0;
    while t <= last {
        let nearest = (0..capture.times.len())
            .min_by(|&a, &b| (capture.times[a] - t).abs().total_cmp(&(capture.times[b] - t).abs()));
        // As the SDK does, a tick that brings the same picture again is skipped (here: where the
        // material turns back on itself, the frames either side of the turn are one frame).
        let same = |a: usize, b: usize| capture.frames[a] == capture.frames[b];
        if let Some(i) = nearest.filter(|&i| picked.last().is_none_or(|&p| !same(p, i))) {
            picked.push(i);
        }
        t += 1000.0 / fps;
    }
    Capture {
        frames: picked
            .iter()
            .map(|&i| {
                let image = image::load_from_memory(&capture.frames[i]).unwrap();
                jpeg(&image.resize(480, 480, image::imageops::FilterType::Triangle).to_rgb8(), 85)
            })
            .collect(),
        times: picked.iter().map(|&i| capture.times[i]).collect(),
    }
}
