//! Does the screen's light fall on the face as on the face's own surface, or is it painted over a
//! picture? The light check (`light.rs`) asks whether the face follows the screen's colours more
//! than the room does; a tint painted over the face region of injected frames does that too, and so
//! does one that fades from the face's centre, which is how a sphere would be lit. What neither does
//! is follow the face's relief: a screen in front of the face lights each piece of skin by the
//! cosine of its surface's angle to the screen (Lambert), so the sides of the nose take on less of
//! its colour than its ridge a few millimetres away, the eye sockets less than the cheekbones, and
//! as the head turns the side turning toward the screen more.
//!
//! From each frame's FaceMesh points (`Detection::shape`, depth included) every point's facing is
//! the cosine of its surface's angle to the camera (the screen sits beside it): a plane fitted to
//! the point and its nearest neighbours. Pairs of points close together on the skin (under
//! [`PAIR_RADIUS`] eye distances apart) that face differently are compared: the difference of their
//! colours (`face::light` reads the skin at every point), against the difference of their facing
//! times the screen's colour at that instant. The slope of the one on the other, over the pairs and
//! frames, is the response per unit of facing; a surface lit by the screen gives about the face's
//! own response to the colours (the light check's), a paint smooth over such short distances about
//! none. The ratio must reach [`MIN_SHADING`].
//!
//! What it does not check: that the shading is the face's own rather than rendered. An attacker who
//! relights each injected frame from a face mesh turned with the head passes it; docs/liveness.md
//! says so.

use super::capture::Observation;
use super::light::{LightRefusal, chroma};
use super::plan::Plan;
use crate::face::light::LightSample;

/// The least response per unit of facing, as a share of the face's response to the colours
/// (CHALLENGE_MIN_SHADING). Measured at the defaults by `tests/api/shading.rs`, which prints both
/// sides: the real recording under light synthesised on its own mesh's surface 0.55–0.89, a photo
/// warped as a 2.5-D surface with the colours painted evenly or fading from the face's centre
/// −0.67–0.03. The limit sits nearer the painted side: genuine users first, and a real camera's
/// white balance and noise will bring the genuine side down.
pub const MIN_SHADING: f32 = 0.25;

/// Points closer than this, in eye distances, are one pair: near enough that a paint's falloff
/// barely differs between them, far enough apart for the relief to.
const PAIR_RADIUS: f32 = 0.3;
/// The least difference of facing, on the first frame, that makes two points a pair.
const MIN_FACING_GAP: f32 = 0.15;
/// Neighbours a point's surface plane is fitted to.
const NEIGHBOURS: usize = 8;
/// Frames with the skin's colour at every point a capture needs, as for the light check.
const MIN_FRAMES: usize = 8;

/// How the light's differences over the face followed its relief.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shading {
    /// The response per unit of facing over the face's response to the colours.
    pub gain: f32,
    pub correlation: f32,
    pub pairs: usize,
}

type Usable<'a> = (&'a Observation, &'a [[f32; 3]], &'a [[f32; 3]]);
/// One frame: the screen's chromaticity, and per pair the difference of the two points' colours
/// (chromaticity) and of their facing.
type Row = ([f32; 3], Vec<([f32; 3], f32)>);

/// Each point's nearest `NEIGHBOURS` (by index) in `shape`.
pub fn neighbours(shape: &[[f32; 3]]) -> Vec<Vec<usize>> {
    let distance = |a: &[f32; 3], b: &[f32; 3]| (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f32>();
    shape
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut near: Vec<(f32, usize)> =
                shape.iter().enumerate().filter(|(j, _)| *j != i).map(|(j, q)| (distance(p, q), j)).collect();
            let nth = NEIGHBOURS.min(near.len() - 1);
            near.select_nth_unstable_by(nth, |a, b| a.0.total_cmp(&b.0));
            near.truncate(NEIGHBOURS);
            near.into_iter().map(|(_, j)| j).collect()
        })
        .collect()
}

/// The cosine of the surface's angle to the camera at each point: the plane through the point and
/// its neighbours fitted as depth over the image (z = a·x + b·y + c), whose normal (−a, −b, 1) makes
/// that cosine 1/√(1 + a² + b²). A surface seen edge-on (its points in a line on the image) faces
/// away: 0.
pub fn facing(shape: &[[f32; 3]], near: &[Vec<usize>]) -> Vec<f32> {
    near.iter()
        .enumerate()
        .map(|(i, js)| {
            let members: Vec<[f64; 3]> =
                std::iter::once(i).chain(js.iter().copied()).map(|j| shape[j].map(f64::from)).collect();
            let n = members.len() as f64;
            let mean = [0, 1, 2].map(|k| members.iter().map(|p| p[k]).sum::<f64>() / n);
            let (mut sxx, mut sxy, mut syy, mut sxz, mut syz) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for p in &members {
                let (x, y, z) = (p[0] - mean[0], p[1] - mean[1], p[2] - mean[2]);
                (sxx, sxy, syy, sxz, syz) = (sxx + x * x, sxy + x * y, syy + y * y, sxz + x * z, syz + y * z);
            }
            let det = sxx * syy - sxy * sxy;
            if det <= 1e-9 * (sxx * syy).max(f64::MIN_POSITIVE) {
                return 0.0;
            }
            let a = (sxz * syy - syz * sxy) / det;
            let b = (syz * sxx - sxz * sxy) / det;
            (1.0 / (1.0 + a * a + b * b).sqrt()) as f32
        })
        .collect()
}

/// The pairs of points near each other that face differently, on `shape`.
fn pairs(shape: &[[f32; 3]], facing: &[f32], eyes: f32) -> Vec<(usize, usize)> {
    let radius = (PAIR_RADIUS * eyes).powi(2);
    let mut out = Vec::new();
    for i in 0..shape.len() {
        for j in i + 1..shape.len() {
            let d = (shape[i][0] - shape[j][0]).powi(2) + (shape[i][1] - shape[j][1]).powi(2);
            if d <= radius && (facing[i] - facing[j]).abs() >= MIN_FACING_GAP {
                out.push((i, j));
            }
        }
    }
    out
}

/// The response per unit of facing over `face_response` (the light check's slope of the face's
/// chromaticity on the screen's), at the screen delay `lag_ms` the light check found. `None` when
/// too few frames have a mesh and the skin's colour at its points.
pub fn response(
    frames: &[Observation],
    samples: &[Option<LightSample>],
    plan: &Plan,
    lag_ms: f32,
    face_response: f32,
) -> Option<Shading> {
    // Each usable frame: its observation, its mesh, and the skin's colour at each mesh point.
    let usable: Vec<Usable<'_>> = frames
        .iter()
        .zip(samples)
        .filter_map(|(f, s)| {
            let shape = f.face.shape.as_deref()?;
            let colours = s.as_ref()?.points.as_deref()?;
            (shape.len() == colours.len() && shape.len() > NEIGHBOURS).then_some((f, shape, colours))
        })
        .collect();
    if usable.len() < MIN_FRAMES || usable.len() < frames.len() * 3 / 5 {
        return None;
    }
    // Neighbours and pairs from the first frame (the level start): the same skin throughout.
    let (first, shape, _) = usable[0];
    let near = neighbours(shape);
    let [le, re, ..] = first.face.landmarks;
    let eyes = ((re[0] - le[0]).powi(2) + (re[1] - le[1]).powi(2)).sqrt();
    let pairs = pairs(shape, &facing(shape, &near), eyes);
    if pairs.is_empty() {
        return None;
    }
    // Per frame: the screen's chromaticity, and per pair the difference of the two points' colours
    // and of their facing.
    let mut rows: Vec<Row> = Vec::new();
    for (f, shape, colours) in &usable {
        let Some(colour) = plan.colour_at((f.t_ms - lag_ms).max(0.0)) else { continue };
        let facing = facing(shape, &near);
        let per_pair = pairs
            .iter()
            .map(|&(i, j)| {
                let (a, b) = (chroma(colours[i]), chroma(colours[j]));
                ([a[0] - b[0], a[1] - b[1], a[2] - b[2]], facing[i] - facing[j])
            })
            .collect();
        rows.push((chroma(colour.rgb().map(f32::from)), per_pair));
    }
    let n = rows.len() as f32;
    if rows.len() < MIN_FRAMES {
        return None;
    }
    let screen_mean = [0, 1, 2].map(|c| rows.iter().map(|r| r.0[c]).sum::<f32>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0f64, 0.0f64, 0.0f64);
    for p in 0..pairs.len() {
        let mean = [0, 1, 2].map(|c| rows.iter().map(|r| r.1[p].0[c]).sum::<f32>() / n);
        for (screen, per_pair) in &rows {
            let (difference, gap) = per_pair[p];
            for c in 0..3 {
                let x = (gap * (screen[c] - screen_mean[c])) as f64;
                let y = (difference[c] - mean[c]) as f64;
                sxy += x * y;
                sxx += x * x;
                syy += y * y;
            }
        }
    }
    if sxx <= f64::EPSILON || syy <= f64::EPSILON || face_response <= 0.0 {
        return Some(Shading { gain: 0.0, correlation: 0.0, pairs: pairs.len() });
    }
    let slope = (sxy / sxx) as f32;
    Some(Shading { gain: slope / face_response, correlation: (sxy / (sxx * syy).sqrt()) as f32, pairs: pairs.len() })
}

/// Refuses light that does not follow the face's relief (`light_not_reflected`: like a tint over
/// the whole frame, it is not the screen reflected by this face).
pub fn check(
    frames: &[Observation],
    samples: &[Option<LightSample>],
    plan: &Plan,
    lag_ms: f32,
    face_response: f32,
    min_shading: f32,
) -> Result<Shading, LightRefusal> {
    let shading = response(frames, samples, plan, lag_ms, face_response).ok_or(LightRefusal::Unmeasured)?;
    if shading.gain < min_shading {
        return Err(LightRefusal::NotShaped(shading.gain));
    }
    Ok(shading)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::Detection;
    use crate::service::Step;

    fn plan() -> Plan {
        let mut i = 0usize;
        Plan::lay_out(vec![Step::TurnLeft, Step::TurnRight], true, 15, move |n| {
            i += 7;
            i % n
        })
    }

    /// A relief on a grid: a dome with a ridge down its middle, turned by `yaw` degrees.
    fn relief(yaw: f32) -> Vec<[f32; 3]> {
        let (s, c) = yaw.to_radians().sin_cos();
        let mut points = Vec::new();
        for gy in 0..14 {
            for gx in 0..14 {
                let (x, y) = (gx as f32 * 8.0 - 52.0, gy as f32 * 8.0 - 52.0);
                let ridge = 25.0 * (-(x * x) / 60.0).exp();
                let z = (90.0f32 * 90.0 - x * x - y * y).max(0.0).sqrt() + ridge;
                points.push([200.0 + c * x + s * z, 200.0 + y, -s * x + c * z]);
            }
        }
        points
    }

    /// A capture turning left and back, each point taking on the screen's colour by `light(point,
    /// facing)`.
    fn capture(plan: &Plan, light: impl Fn(usize, f32) -> f32) -> (Vec<Observation>, Vec<Option<LightSample>>) {
        let near = neighbours(&relief(0.0));
        let (mut frames, mut samples) = (Vec::new(), Vec::new());
        for k in 0..plan.frames() {
            let t = k as f32 * 1000.0 / 15.0;
            let phase = ((t - 1100.0) / 1000.0).clamp(0.0, 1.0);
            let yaw = 25.0 * (phase * std::f32::consts::PI).sin();
            let shape = relief(yaw);
            let facing = facing(&shape, &near);
            let screen = plan.colour_at((t - 100.0).max(0.0)).map_or([0.0; 3], |c| c.rgb().map(f32::from));
            let colours: Vec<[f32; 3]> = (0..shape.len())
                .map(|i| {
                    let strength = light(i, facing[i]);
                    let skin = [160.0 + (i % 5) as f32, 115.0, 100.0];
                    [0, 1, 2].map(|c| skin[c] * (1.0 - strength) + strength * screen[c])
                })
                .collect();
            let landmarks = [[180.0, 180.0], [220.0, 180.0], [200.0, 200.0], [185.0, 225.0], [215.0, 225.0]];
            let face = Detection { bbox: [0.0; 4], score: 1.0, landmarks, pose: None, shape: Some(shape.into()) };
            frames.push(Observation { t_ms: t, face, yaw, pitch: 0.0 });
            let n = colours.len() as f32;
            let face = [0, 1, 2].map(|c| colours.iter().map(|p| p[c]).sum::<f32>() / n);
            let surround = [90.0 + screen[0] * 0.02, 95.0 + screen[1] * 0.02, 100.0 + screen[2] * 0.02];
            samples.push(Some(LightSample { face, surround, points: Some(colours.into()) }));
        }
        (frames, samples)
    }

    #[test]
    fn light_that_follows_the_relief_passes_and_paint_smooth_over_it_does_not() {
        let plan = plan();
        // The face's own response to the colours, as the light check measures it: the ratio's base.
        let judged = |light: &dyn Fn(usize, f32) -> f32| {
            let (frames, samples) = capture(&plan, light);
            let times: Vec<f32> = frames.iter().map(|f| f.t_ms).collect();
            let face = super::super::light::response(&times, &samples, &plan).unwrap().face;
            (
                response(&frames, &samples, &plan, 100.0, face).unwrap(),
                check(&frames, &samples, &plan, 100.0, face, MIN_SHADING),
            )
        };
        let (real, verdict) = judged(&|_, facing| 0.25 * facing);
        assert!(real.correlation > 0.9 && real.gain > MIN_SHADING && verdict.is_ok(), "{real:?}");
        // Painted evenly, and with a gradient across the face.
        for painted in
            [&(|_: usize, _: f32| 0.22f32) as &dyn Fn(usize, f32) -> f32, &|i, _| 0.1 + 0.15 * ((i % 14) as f32 / 13.0)]
        {
            let (r, verdict) = judged(painted);
            assert!(r.gain < MIN_SHADING, "{r:?}");
            assert!(matches!(verdict, Err(LightRefusal::NotShaped(_))), "{verdict:?}");
        }
    }

    #[test]
    fn a_flat_patch_faces_the_camera_and_a_turned_one_less() {
        let flat: Vec<[f32; 3]> = (0..25).map(|i| [(i % 5) as f32, (i / 5) as f32, 0.0]).collect();
        let f = facing(&flat, &neighbours(&flat));
        assert!(f.iter().all(|v| (v - 1.0).abs() < 1e-4), "{f:?}");
        // The same patch turned 60° about the vertical: cos 60°.
        let turned: Vec<[f32; 3]> = flat.iter().map(|p| [p[0] * 0.5, p[1], p[0] * 0.866]).collect();
        let f = facing(&turned, &neighbours(&turned));
        assert!(f.iter().all(|v| (v - 0.5).abs() < 1e-3), "{f:?}");
    }

    #[test]
    fn frames_without_the_skin_at_the_points_are_unmeasured_and_refused() {
        let plan = plan();
        let (frames, samples) = capture(&plan, |_, _| 0.2);
        let bare: Vec<_> = samples.iter().map(|s| s.clone().map(|s| LightSample { points: None, ..s })).collect();
        assert_eq!(check(&frames, &bare, &plan, 100.0, 0.2, MIN_SHADING), Err(LightRefusal::Unmeasured));
    }
}
