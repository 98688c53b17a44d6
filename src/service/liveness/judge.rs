//! A capture through the deployed checks, in order, the first refusal returned (`judge`); its
//! frames analysed as the checks need them (`analyze`); one recorded capture tried with its
//! measurements kept, for `faceauth liveness-eval` (`trial`).

use bytes::Bytes;

use super::super::error::ServiceError;
use super::super::inference::Inference;
use super::capture::{self, CaptureRefusal};
use super::evaluation::Check;
use super::light::{self, LightRefusal, LightResponse};
use super::offer::LightOffer;
use super::plan::Plan;
use super::policy::LivenessPolicy;
use super::pose::{self, PoseLimits, PoseRefusal};
use super::verdict::{CaptureAnswer, CaptureVerdict, LightCheck, Liveness};
use super::{planarity, sampling, shading};
use crate::face::frame::{CaptureFrame, FrameWork, Identity};
use crate::face::{Embedding, PoolError};
use crate::store::photo_digest;

/// Consecutive frames of one face, a few tens of milliseconds apart, are far closer than two photos
/// of one person; a face swapped in mid-capture is not. The real recordings' lowest
/// neighbour similarity is printed by `tests/api/capture.rs`.
pub const NEIGHBOUR_SIMILARITY: f32 = 0.5;
/// Every frame against the capture's probe frame (the level frame that matched best). A floor, not
/// the match: a hand over the mouth or closed eyes bring a real recording's frames down to 0.215
/// against its reference frame (`tests/pipeline/video.rs`); the neighbour check is what stops a face
/// swapped in, and the probe frame alone is matched at the threshold.
pub const CAPTURE_IDENTITY: f32 = 0.15;

/// Judges a capture against its plan with `policy`'s limits: every check of the challenge in
/// order, the first refusal returned.
pub fn judge(
    policy: &LivenessPolicy,
    answer: &CaptureAnswer<'_>,
    references: &[Embedding],
) -> Result<CaptureVerdict, ServiceError> {
    let CaptureAnswer { plan, frames, times, digests, light_declined } = *answer;
    capture::check_times(times, plan.duration_ms)?;
    let observed = capture::observe(frames, times);
    capture::check_motion(&observed, digests)?;
    let limits = PoseLimits {
        frontal_yaw: policy.frontal_yaw,
        min_turn_yaw: policy.min_turn_yaw,
        min_nod_pitch: policy.min_nod_pitch,
    };
    let reached = pose::check(&observed, plan, &limits)?;
    // The moves answered, by a head and not a picture turned as a plane.
    if policy.min_parallax > 0.0 {
        planarity::check(&observed, plan, policy.min_parallax)?;
    }
    // The frames `sampling.rs` picked: one person throughout, judged on them (the continuity
    // checks above read every frame in between).
    let identified: Vec<(usize, &Identity)> =
        frames.iter().enumerate().filter_map(|(i, f)| Some((i, f.identity.as_ref()?))).collect();
    let Some(probe) = probe_frame(plan, &identified, times, references) else {
        // No frame identified is a wiring fault: refused, never passed.
        return Err(ServiceError::IdentityChanged { frame: 1 });
    };
    let probe_embedding = &frames[probe].identity.as_ref().expect("the probe is identified").embedding;
    for (k, (i, id)) in identified.iter().enumerate() {
        let neighbour = k.checked_sub(1).map(|p| id.embedding.cosine(&identified[p].1.embedding));
        if neighbour.is_some_and(|s| s < NEIGHBOUR_SIMILARITY)
            || id.embedding.cosine(probe_embedding) < CAPTURE_IDENTITY
        {
            return Err(ServiceError::IdentityChanged { frame: i + 1 });
        }
    }
    // The plan says whether colours were asked (the backend chose, in the signed session);
    // a client that says it showed none when they were asked is refused, never downgraded.
    let light = match (plan.light.is_empty(), light_declined) {
        (true, _) if policy.light == LightOffer::Off => LightCheck::Off,
        (true, _) => LightCheck::NotAsked,
        (false, true) => return Err(LightRefusal::Declined.into()),
        (false, false) => {
            let samples: Vec<_> = frames.iter().map(|f| f.light.clone()).collect();
            let response = light::check(times, &samples, plan)?;
            // Followed, and as by the face's own relief under the screen, not a tint painted on.
            if policy.min_shading > 0.0 {
                shading::check(&observed, &samples, plan, response.lag_ms, response.face, policy.min_shading)?;
            }
            LightCheck::Passed
        }
    };
    // The frames scored (`sampling::PASSIVE_SAMPLES`, spread over the capture); their mean
    // judged, so one blurred frame of a real turn does not decide. Configured but none scored
    // would be a wiring fault: 0, refused.
    let scores: Vec<f64> = identified.iter().filter_map(|(_, id)| Some(id.liveness?.p_real)).collect();
    let p_real = match scores.len() {
        0 => 0.0,
        n => scores.iter().sum::<f64>() / n as f64,
    };
    if p_real < policy.threshold {
        return Err(ServiceError::LivenessFailed(p_real));
    }
    let p_real = Some(p_real);
    Ok(CaptureVerdict { probe, liveness: Liveness::Challenge { steps: reached, p_real, light, frames: frames.len() } })
}

/// A capture's frames analysed as `sampling.rs` says: located all, identified on a sparse
/// sample, then, in a second pass, identified densely between two sampled frames that differ.
/// Every frame is analysed in full unless a plan and one time per frame say what each needs
/// (the API guarantees both; a caller that does not still gets every frame).
pub async fn analyze(
    inference: &dyn Inference,
    frames: Vec<Bytes>,
    times: &[f32],
    plan: Option<&Plan>,
) -> Result<Vec<CaptureFrame>, ServiceError> {
    let plan = plan.filter(|_| times.len() == frames.len());
    let needs = match plan {
        Some(p) => sampling::frame_work(times, p, sampling::drawn_seed()),
        None => vec![FrameWork::Score; frames.len()],
    };
    // `Bytes` are shared: keeping them for a second pass copies nothing.
    let kept = frames.clone();
    let mut analysed = every(inference.analyze_frames(frames, needs).await)?;
    let Some(plan) = plan else { return Ok(analysed) };
    let identified: Vec<(usize, &Embedding)> =
        analysed.iter().enumerate().filter_map(|(i, f)| Some((i, &f.identity.as_ref()?.embedding))).collect();
    let more = sampling::refinements(times, plan, &identified);
    if more.is_empty() {
        return Ok(analysed);
    }
    let again = more.iter().map(|&i| kept[i].clone()).collect();
    let again = every(inference.analyze_frames(again, vec![FrameWork::Identify; more.len()]).await)?;
    for (i, frame) in more.into_iter().zip(again) {
        analysed[i] = frame;
    }
    Ok(analysed)
}

/// A recorded capture through the deployed checks (`faceauth liveness-eval`): analysed as a verify
/// would analyse it, judged with `policy`, and the tunable checks' measurements taken whatever the
/// verdict. No references (the probe is the best level frame by the first one identified) and no
/// replay memory: it measures liveness, not the match or a repeat.
pub async fn trial(
    policy: &LivenessPolicy,
    inference: &dyn Inference,
    plan: &Plan,
    frames: Vec<Bytes>,
    times: &[f32],
    light_declined: bool,
) -> Trial {
    let digests: Vec<String> = frames.iter().map(|b| photo_digest(b)).collect();
    let frames = match analyze(inference, frames, times, Some(plan)).await {
        Ok(frames) => frames,
        Err(e) => return Trial { verdict: Err(e), parallax: None, light: None, shading: None },
    };
    let observed = capture::observe(&frames, times);
    let parallax = planarity::largest_parallax(&observed, plan);
    let samples: Vec<_> = frames.iter().map(|f| f.light.clone()).collect();
    let light = (!plan.light.is_empty()).then(|| light::response(times, &samples, plan)).flatten();
    let shading = light.and_then(|l| shading::response(&observed, &samples, plan, l.lag_ms, l.face));
    let answer = CaptureAnswer { plan, frames: &frames, times, digests: &digests, light_declined };
    Trial { verdict: judge(policy, &answer, &[]), parallax, light, shading: shading.map(|s| s.gain) }
}

/// One recorded capture's verdict and measurements.
pub struct Trial {
    pub verdict: Result<CaptureVerdict, ServiceError>,
    pub parallax: Option<f32>,
    pub light: Option<LightResponse>,
    /// How the light followed the face's relief (`shading.rs`): its gain.
    pub shading: Option<f32>,
}

/// Which check of the challenge a refusal came from.
pub fn refused_by(error: &ServiceError) -> Check {
    match error.refusal() {
        ServiceError::Capture(_) => Check::Capture,
        ServiceError::Pose(_) => Check::Pose,
        ServiceError::Planarity(_) => Check::Planarity,
        ServiceError::IdentityChanged { .. } => Check::Identity,
        ServiceError::Light(_) => Check::Light,
        ServiceError::LivenessFailed(_) => Check::Passive,
        ServiceError::ReplayedImage => Check::Replay,
        _ => Check::Frames,
    }
}

/// The identified level frame (before the first prompt) closest to the user's references; the first
/// identified frame when there are none (an unknown user is answered after the same work).
fn probe_frame(
    plan: &Plan,
    identified: &[(usize, &Identity)],
    times: &[f32],
    references: &[Embedding],
) -> Option<usize> {
    let first_prompt = plan.prompts.first().map_or(f32::MAX, |p| p.at_ms as f32);
    let best = |id: &Identity| references.iter().map(|r| r.cosine(&id.embedding)).fold(f32::MIN, f32::max);
    identified
        .iter()
        .filter(|(i, _)| times[*i] < first_prompt)
        .max_by(|a, b| best(a.1).total_cmp(&best(b.1)))
        .or(identified.first())
        .map(|(i, _)| *i)
}

/// Every frame's analysis, or the first failure.
fn every(analysed: Result<Vec<Result<CaptureFrame, PoolError>>, PoolError>) -> Result<Vec<CaptureFrame>, ServiceError> {
    analysed?.into_iter().map(|f| f.map_err(ServiceError::from)).collect()
}

impl From<CaptureRefusal> for ServiceError {
    fn from(refusal: CaptureRefusal) -> Self {
        ServiceError::Capture(refusal)
    }
}

impl From<PoseRefusal> for ServiceError {
    fn from(refusal: PoseRefusal) -> Self {
        match refusal {
            // A jump is a discontinuity of the capture, whatever step it answered.
            PoseRefusal::Abrupt(step) => {
                ServiceError::Capture(CaptureRefusal::Discontinuous(capture::Discontinuity::AbruptMove(step)))
            }
            other => ServiceError::Pose(other),
        }
    }
}

impl From<planarity::PlanarityRefusal> for ServiceError {
    fn from(refusal: planarity::PlanarityRefusal) -> Self {
        ServiceError::Planarity(refusal)
    }
}

impl From<LightRefusal> for ServiceError {
    fn from(refusal: LightRefusal) -> Self {
        ServiceError::Light(refusal)
    }
}
