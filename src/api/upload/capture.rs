//! The capture fields of a verify (`capture` parts, `capture_ms`, `capture_light`), checked against
//! each other once the multipart body is read.

use bytes::Bytes;
use sha2::Digest;

use crate::error::ApiError;

/// One continuous capture as sent.
#[derive(Debug)]
pub struct Capture {
    pub frames: Vec<Bytes>,
    pub times: Vec<f32>,
    /// The hex SHA-256 of the `capture_ms` field's bytes as sent: what a passkey signs of the times.
    pub times_sha256: String,
    pub light_declined: bool,
}

/// Most frames a capture may carry: 30 fps over the longest plan (8 steps, 11.7 s).
pub const MAX_CAPTURE_FRAMES: usize = 360;
/// `capture_ms` holds one number per frame.
pub(super) const MAX_TIMES_FIELD: usize = MAX_CAPTURE_FRAMES * 12;

/// The capture's parts checked against each other: one time per frame, numbers that a clock gives.
/// Whether the times make one continuous capture is the service's judgement, not a parse error.
pub(super) fn capture(
    frames: Vec<Bytes>,
    times: Option<Bytes>,
    light: Option<Bytes>,
) -> Result<Option<Capture>, ApiError> {
    if frames.is_empty() && times.is_none() && light.is_none() {
        return Ok(None);
    }
    if frames.is_empty() {
        return Err(ApiError::MissingField("capture"));
    }
    if frames.iter().any(|f| f.is_empty()) {
        return Err(ApiError::InvalidImage("a capture frame is empty".into()));
    }
    let times = times.ok_or(ApiError::MissingField("capture_ms"))?;
    let times_sha256 = hex::encode(sha2::Sha256::digest(&times));
    let times: Vec<f64> = serde_json::from_slice(&times).map_err(|_| {
        ApiError::InvalidRequest("capture_ms must be a JSON array of numbers: each frame's time in ms".into())
    })?;
    if times.len() != frames.len() {
        return Err(ApiError::InvalidRequest(format!(
            "capture_ms has {} times for {} frames: send one time per frame",
            times.len(),
            frames.len()
        )));
    }
    if times.iter().any(|t| !t.is_finite() || !(0.0..=600_000.0).contains(t)) {
        return Err(ApiError::InvalidRequest("capture_ms times must be between 0 and 600000".into()));
    }
    let light_declined = match light.as_deref().map(|l| std::str::from_utf8(l).map(str::trim)) {
        None | Some(Ok("shown")) => false,
        Some(Ok("declined")) => true,
        _ => return Err(ApiError::InvalidRequest("capture_light must be shown or declined".into())),
    };
    Ok(Some(Capture { frames, times: times.into_iter().map(|t| t as f32).collect(), times_sha256, light_declined }))
}
