//! The face policy: detection settings, which faces are accepted, the match threshold.

use super::env::{Parser, Var};
use crate::face::PipelineMode;
use crate::face::detect::DetectorSettings;
use crate::face::policy::FacePolicy;
use crate::face::quality::QualityPolicy;

/// LIVENESS: what a verify photo must show beyond the right face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivenessMode {
    Off,
    /// MiniFASNet on the verify photo: P(real) at or above LIVENESS_THRESHOLD.
    Passive,
    /// A plan of head movements and screen colours, answered by one continuous capture (a session's
    /// plan, or POST /api/challenges). The production default.
    Challenge,
}

/// LIGHT_CHALLENGE: whether plans carry screen colours the face must reflect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LightChallenge {
    /// Colours in every plan; a client may decline them (prefers-reduced-motion), and the result
    /// then says the light check did not run. The default.
    On,
    /// Colours in every plan, and a capture without them is refused.
    Required,
    Off,
}

#[derive(Debug, Clone)]
pub struct FaceConfig {
    /// MATCH_THRESHOLD: overrides the recognizer profile's threshold.
    pub match_threshold: Option<f32>,
    /// MATCH_FMR: the false-match rate the threshold is chosen for (NIST SP 800-63B-4: 1e-4 or
    /// better), from the recognizer profile's measured operating points.
    pub match_fmr: f64,
    /// PIPELINE: adaptive (default) or reference (InsightFace's steps, for comparisons).
    pub pipeline: PipelineMode,
    /// DETECTOR_INPUT_SIZE, DETECTION_THRESHOLD, NMS_THRESHOLD.
    pub detector: DetectorSettings,
    /// MIN_EYE_DISTANCE_PX, ENROLL_FACE_MARGIN, VERIFY_FACE_MARGIN, and the QUALITY_* limits a
    /// reference photo must meet.
    pub policy: FacePolicy,
    /// CHALLENGE_STEPS: head movements per challenge.
    pub challenge_steps: usize,
    /// CHALLENGE_MOVES: the movements challenges draw from (names as the API writes them).
    pub challenge_moves: Vec<String>,
    /// CHALLENGE_MIN_PITCH: a nod's smallest pitch change from the frontal photo, degrees.
    pub challenge_min_pitch: f32,
    /// CHALLENGE_TTL_SECS: how long a challenge may be answered.
    pub challenge_ttl: std::time::Duration,
    /// CHALLENGE_FRONTAL_YAW: the frontal photo's largest |yaw|, degrees.
    pub challenge_frontal_yaw: f32,
    /// CHALLENGE_MIN_YAW: a turn's smallest yaw in the asked direction, degrees.
    pub challenge_min_yaw: f32,
    /// CHALLENGE_MIN_PARALLAX: the least parallax, in eye distances, some prompted move must show
    /// (the planarity check; 0 turns it off). The default is the service's `planarity::MIN_PARALLAX`.
    pub challenge_min_parallax: f32,
    /// CHALLENGE_MIN_SHADING: how much of the face's response to the screen's colours must follow
    /// its relief (points close together that face the screen differently take on the colours
    /// differently); 0 turns it off.
    pub challenge_min_shading: f32,
    /// MAX_IMAGE_PIXELS: refused before decoding (decompression bombs).
    pub max_image_pixels: u64,
    /// MAX_REFERENCES_PER_USER.
    pub max_references_per_user: usize,
    /// LIVENESS: off, passive or challenge (challenge in production, off in development).
    pub liveness: LivenessMode,
    /// LIGHT_CHALLENGE.
    pub light: LightChallenge,
    /// CAPTURE_FPS: the frame rate a challenge's capture is asked for (10–30).
    pub capture_fps: u32,
    /// LIVENESS_THRESHOLD: the P(real) a verify photo needs with LIVENESS=passive.
    pub liveness_threshold: f64,
}

impl FaceConfig {
    pub(super) fn parse(p: &mut Parser, production: bool) -> Self {
        let match_threshold = p.get(Var::MatchThreshold).map(|_| p.ranged(Var::MatchThreshold, 0.5f32, -1.0, 1.0));
        let input_size = p.ranged(Var::DetectorInputSize, 640u32, 128, 1280);
        if !input_size.is_multiple_of(32) {
            p.problem(format!("DETECTOR_INPUT_SIZE={input_size} is not a multiple of 32"));
        }
        let liveness = match p.get(Var::Liveness).map(str::to_ascii_lowercase).as_deref() {
            // A photo from a social network must not verify out of the box.
            None if production => LivenessMode::Challenge,
            None | Some("off") => LivenessMode::Off,
            Some("passive") => LivenessMode::Passive,
            Some("challenge") => LivenessMode::Challenge,
            Some(other) => {
                p.problem(format!("LIVENESS={other} is not valid: use off, passive or challenge"));
                LivenessMode::Off
            }
        };
        let light = match p.get(Var::LightChallenge).map(str::to_ascii_lowercase).as_deref() {
            None | Some("on") => LightChallenge::On,
            Some("required") => LightChallenge::Required,
            Some("off") => LightChallenge::Off,
            Some(other) => {
                p.problem(format!("LIGHT_CHALLENGE={other} is not valid: use on, required or off"));
                LightChallenge::On
            }
        };
        let pipeline = match p.get(Var::Pipeline).map(str::to_ascii_lowercase).as_deref() {
            None | Some("adaptive") => PipelineMode::Adaptive,
            Some("reference") => PipelineMode::Reference,
            Some(other) => {
                p.problem(format!("PIPELINE={other} is not valid: use adaptive or reference"));
                PipelineMode::Adaptive
            }
        };
        let q = QualityPolicy::default();
        Self {
            pipeline,
            liveness,
            light,
            capture_fps: p.ranged(Var::CaptureFps, 15u32, 10, 30),
            liveness_threshold: p.ranged(Var::LivenessThreshold, 0.5f64, 0.0, 1.0),
            challenge_steps: p.ranged(Var::ChallengeSteps, 3usize, 1, 8),
            challenge_moves: challenge_moves(p),
            challenge_min_pitch: p.ranged(Var::ChallengeMinPitch, 15.0f32, 0.0, 90.0),
            challenge_ttl: p.secs(Var::ChallengeTtlSecs, 60, 3600),
            challenge_frontal_yaw: p.ranged(Var::ChallengeFrontalYaw, 12.0f32, 0.0, 90.0),
            challenge_min_yaw: p.ranged(Var::ChallengeMinYaw, 18.0f32, 0.0, 90.0),
            challenge_min_parallax: p.ranged(Var::ChallengeMinParallax, 0.025f32, 0.0, 1.0),
            challenge_min_shading: p.ranged(Var::ChallengeMinShading, 0.25f32, 0.0, 10.0),
            match_threshold,
            match_fmr: match p.parse(Var::MatchFmr, 1e-4f64, "a rate such as 1e-4") {
                fmr if fmr > 0.0 && fmr < 1.0 => fmr,
                fmr => {
                    p.problem(format!(
                        "MATCH_FMR={fmr} is out of range: expected a rate between 0 and 1, such as 1e-4"
                    ));
                    1e-4
                }
            },
            detector: DetectorSettings {
                input_size,
                score_threshold: p.ranged(Var::DetectionThreshold, 0.5f32, 0.05, 0.99),
                nms_threshold: p.ranged(Var::NmsThreshold, 0.4f32, 0.05, 0.95),
            },
            policy: FacePolicy {
                min_eye_distance: p.ranged(Var::MinEyeDistancePx, 20.0f32, 0.0, 1000.0),
                enroll_margin: p.ranged(Var::EnrollFaceMargin, 0.15f32, 0.0, 10.0),
                verify_margin: p.ranged(Var::VerifyFaceMargin, 0.05f32, 0.0, 10.0),
                quality: QualityPolicy {
                    min_sharpness: p.ranged(Var::QualityMinSharpness, q.min_sharpness, 0.0, 100_000.0),
                    min_brightness: p.ranged(Var::QualityMinBrightness, q.min_brightness, 0.0, 255.0),
                    max_brightness: p.ranged(Var::QualityMaxBrightness, q.max_brightness, 0.0, 255.0),
                    max_clipped: p.ranged(Var::QualityMaxClipped, q.max_clipped, 0.0, 1.0),
                    max_yaw: p.ranged(Var::QualityMaxYaw, q.max_yaw, 0.0, 90.0),
                    max_pitch: p.ranged(Var::QualityMaxPitch, q.max_pitch, 0.0, 90.0),
                },
            },
            max_image_pixels: p.ranged(Var::MaxImagePixels, 40_000_000u64, 1, 1_000_000_000),
            max_references_per_user: p.ranged(Var::MaxReferencesPerUser, 20usize, 1, 1000),
        }
    }
}

/// The movements a challenge may ask for, as the API names them.
pub const MOVES: [&str; 4] = ["turn_left", "turn_right", "look_up", "look_down"];

fn challenge_moves(p: &mut Parser) -> Vec<String> {
    let listed = p.list(Var::ChallengeMoves);
    if listed.is_empty() {
        return MOVES.iter().map(|m| m.to_string()).collect();
    }
    let mut moves: Vec<String> = Vec::new();
    for item in listed {
        match MOVES.contains(&item.as_str()) {
            true if !moves.contains(&item) => moves.push(item),
            true => {}
            false => p.problem(format!("CHALLENGE_MOVES entry {item} is not a movement: use {}", MOVES.join(", "))),
        }
    }
    if moves.len() < 2 {
        p.problem("CHALLENGE_MOVES needs at least two movements (no move is asked twice in a row)");
        return MOVES.iter().map(|m| m.to_string()).collect();
    }
    moves
}
