//! The multipart body of register/verify (`user_id` + `image`), with every failure mapped to the envelope.

use axum::extract::multipart::MultipartError;
use axum::extract::{FromRef, FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use bytes::{Bytes, BytesMut};

use crate::app::AppState;
use crate::domain::UserId;
use crate::error::ApiError;

mod capture;

pub use capture::{Capture, MAX_CAPTURE_FRAMES};
use capture::{MAX_TIMES_FIELD, capture};

#[derive(Debug)]
pub struct Upload {
    pub user_id: UserId,
    /// Register: the photo. Verify: the photo, unless a capture answers a challenge.
    pub image: Option<Bytes>,
    /// Register only: the enrolment grant a client key presents.
    pub enrollment_token: Option<String>,
    /// Register only: replace every existing reference (secret keys only).
    pub replace: bool,
    /// Verify with LIVENESS=challenge: the challenge answered (without a session), and the
    /// capture: its frames (`capture` parts, in order), their times (`capture_ms`), and whether
    /// the client declined the screen colours (`capture_light=declined`).
    pub challenge_id: Option<String>,
    pub capture: Option<Capture>,
    /// Both routes: the session the backend created for this attempt (`POST /api/sessions`).
    pub session_token: Option<String>,
    /// Register only: the notice the user accepted (1–128 of `A-Z a-z 0-9 . _ : -`).
    pub consent: Option<String>,
    /// Verify on a face + passkey session: the WebAuthn assertion (PublicKeyCredential as JSON).
    pub passkey: Option<String>,
    /// The register-only and verify-only fields that were sent, even empty: each route refuses the
    /// other's, as the contract lists them.
    register_only: Option<&'static str>,
    verify_only: Option<&'static str>,
}

/// Which route an upload was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadRoute {
    Register,
    Verify,
}

impl Upload {
    /// Refuses a field that belongs to the other route (400 invalid_request, as an unknown field).
    pub fn check_fields(&self, route: UploadRoute) -> Result<(), ApiError> {
        let foreign = match route {
            UploadRoute::Register => self.verify_only,
            UploadRoute::Verify => self.register_only,
        };
        match foreign {
            Some(name) => Err(ApiError::InvalidRequest(format!("unknown field '{name}'"))),
            None => Ok(()),
        }
    }
}

/// A notice id as consent names it: 1–128 of `A-Z a-z 0-9 . _ : -`.
fn is_notice_id(notice: &str) -> bool {
    (1..=128).contains(&notice.len())
        && notice.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The largest image accepted, taken from the application state.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimit(pub usize);

impl FromRef<AppState> for UploadLimit {
    fn from_ref(state: &AppState) -> Self {
        UploadLimit(state.http.max_upload_bytes)
    }
}

/// The longest user_id field read before refusing it (ids are at most 128 characters).
const MAX_USER_ID_FIELD: usize = 1024;
/// The longest value of the small text fields (a grant is a few hundred bytes).
const MAX_TEXT_FIELD: usize = 4096;

fn multipart_error(err: MultipartError, limit: usize) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(limit)
    } else {
        ApiError::InvalidRequest(format!("malformed multipart body: {}", err.body_text()))
    }
}

impl<S: Send + Sync> FromRequest<S> for Upload
where
    UploadLimit: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let UploadLimit(limit) = UploadLimit::from_ref(state);
        let is_multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        if !is_multipart {
            return Err(ApiError::UnsupportedMediaType(
                "send multipart/form-data with the fields user_id and image".into(),
            ));
        }
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::InvalidRequest(format!("malformed multipart body: {}", e.body_text())))?;
        // An early error leaves the rest of the body unread; the lingering-close layer drains it.
        read_fields(&mut multipart, limit).await
    }
}

async fn read_fields(multipart: &mut Multipart, limit: usize) -> Result<Upload, ApiError> {
    let (mut user_id, mut image): (Option<Bytes>, Option<Bytes>) = (None, None);
    let (mut token, mut replace): (Option<Bytes>, Option<Bytes>) = (None, None);
    let mut challenge: Option<Bytes> = None;
    let mut session: Option<Bytes> = None;
    let mut consent: Option<Bytes> = None;
    let mut passkey: Option<Bytes> = None;
    let (mut times, mut light): (Option<Bytes>, Option<Bytes>) = (None, None);
    let mut frames: Vec<Bytes> = Vec::new();
    let mut frame_slot: Option<Bytes> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| multipart_error(e, limit))? {
        let name = field.name().unwrap_or_default().to_string();
        if let Some(frame) = frame_slot.take() {
            frames.push(frame);
        }
        let (slot, cap) = match name.as_str() {
            "user_id" => (&mut user_id, MAX_USER_ID_FIELD),
            "image" => (&mut image, limit),
            "enrollment_token" => (&mut token, MAX_TEXT_FIELD),
            "replace" => (&mut replace, MAX_TEXT_FIELD),
            "challenge_id" => (&mut challenge, MAX_TEXT_FIELD),
            "session_token" => (&mut session, MAX_TEXT_FIELD),
            "consent" => (&mut consent, MAX_TEXT_FIELD),
            // An assertion is a few hundred bytes of base64url; room for long credential ids.
            "passkey" => (&mut passkey, 4 * MAX_TEXT_FIELD),
            "capture_ms" => (&mut times, MAX_TIMES_FIELD),
            "capture_light" => (&mut light, MAX_TEXT_FIELD),
            // Repeated, in order: each part is one frame.
            "capture" if frames.len() < MAX_CAPTURE_FRAMES => (&mut frame_slot, limit),
            "capture" => {
                return Err(ApiError::InvalidRequest(format!("a capture has at most {MAX_CAPTURE_FRAMES} frames")));
            }
            // The contract lists every field: one it does not know is a client's mistake (a typo
            // would otherwise be silently ignored).
            other => {
                let shown: String = other.chars().take(64).collect();
                return Err(ApiError::InvalidRequest(format!("unknown field '{shown}'")));
            }
        };
        if slot.is_some() {
            return Err(ApiError::DuplicateField(name));
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
            if buf.len() + chunk.len() > cap {
                return Err(match name.as_str() {
                    "user_id" => ApiError::InvalidUserId("user_id is longer than 128 characters".into()),
                    "image" | "capture" => ApiError::PayloadTooLarge(limit),
                    _ => ApiError::InvalidRequest(format!("the field '{name}' is too long")),
                });
            }
            buf.extend_from_slice(&chunk);
        }
        *slot = Some(buf.freeze());
    }
    frames.extend(frame_slot);
    let raw_id = user_id.ok_or(ApiError::MissingField("user_id"))?;
    let text =
        std::str::from_utf8(&raw_id).map_err(|_| ApiError::InvalidUserId("user_id is not valid UTF-8".into()))?;
    let user_id = UserId::parse(text).map_err(|e| ApiError::InvalidUserId(e.to_string()))?;
    let capture = capture(frames, times, light)?;
    let image = match (image, &capture) {
        (Some(image), _) if image.is_empty() => return Err(ApiError::InvalidImage("the image field is empty".into())),
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidRequest(
                "send either one photo (image) or a capture (capture parts and capture_ms), not both".into(),
            ));
        }
        (None, None) => return Err(ApiError::MissingField("image")),
        (image, _) => image,
    };
    let (token_sent, replace_sent, challenge_sent) = (token.is_some(), replace.is_some(), challenge.is_some());
    let text = |name: &str, value: Bytes| {
        String::from_utf8(value.to_vec())
            .map_err(|_| ApiError::InvalidRequest(format!("the field '{name}' is not UTF-8")))
    };
    let enrollment_token = token.map(|t| text("enrollment_token", t)).transpose()?.filter(|t| !t.trim().is_empty());
    let replace = match replace.map(|r| text("replace", r)).transpose()?.as_deref().map(str::trim) {
        None | Some("false") | Some("0") | Some("") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err(ApiError::InvalidRequest("the field 'replace' must be true or false".into())),
    };
    let challenge_id = challenge.map(|c| text("challenge_id", c)).transpose()?.filter(|c| !c.trim().is_empty());
    let session_token = session.map(|c| text("session_token", c)).transpose()?.filter(|c| !c.trim().is_empty());
    let passkey_sent = passkey.is_some();
    let passkey = passkey.map(|c| text("passkey", c)).transpose()?.filter(|c| !c.trim().is_empty());
    let consent_sent = consent.is_some();
    let consent = match consent.map(|c| text("consent", c)).transpose()? {
        Some(notice) if is_notice_id(&notice) => Some(notice),
        Some(_) => {
            return Err(ApiError::InvalidRequest(
                "the field 'consent' must name a notice: 1-128 of A-Z a-z 0-9 . _ : -".into(),
            ));
        }
        None => None,
    };
    let register_only = match (token_sent, replace_sent, consent_sent) {
        (true, _, _) => Some("enrollment_token"),
        (false, true, _) => Some("replace"),
        (false, false, true) => Some("consent"),
        _ => None,
    };
    let verify_only = match (challenge_sent, capture.is_some(), passkey_sent) {
        (true, _, _) => Some("challenge_id"),
        (false, true, _) => Some("capture"),
        (false, false, true) => Some("passkey"),
        _ => None,
    };
    Ok(Upload {
        user_id,
        image,
        enrollment_token,
        replace,
        challenge_id,
        capture,
        session_token,
        consent,
        passkey,
        register_only,
        verify_only,
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use proptest::prelude::*;

    use super::*;

    fn request(body: Vec<u8>) -> Request {
        Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(Body::from(body))
            .unwrap()
    }

    fn part(name: &str, value: &[u8]) -> Vec<u8> {
        let mut out = format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").into_bytes();
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
        out
    }

    fn parse(body: Vec<u8>, limit: usize) -> Result<Upload, ApiError> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(Upload::from_request(request(body), &UploadLimit(limit)))
    }

    #[test]
    fn a_well_formed_body_parses() {
        let mut body = part("user_id", b"alice");
        body.extend(part("image", b"\xff\xd8bytes"));
        body.extend_from_slice(b"--XyZ--\r\n");
        let upload = parse(body, 1024).unwrap();
        assert_eq!(upload.user_id.as_str(), "alice");
        assert_eq!(upload.image.as_deref(), Some(&b"\xff\xd8bytes"[..]));
    }

    #[test]
    fn a_capture_parses_its_frames_in_order_with_one_time_each() {
        let mut body = part("user_id", b"alice");
        for frame in [b"one", b"two", b"six"] {
            body.extend(part("capture", frame));
        }
        body.extend(part("capture_ms", b"[0, 66.5, 133]"));
        body.extend_from_slice(b"--XyZ--\r\n");
        let upload = parse(body.clone(), 1024).unwrap();
        let capture = upload.capture.unwrap();
        assert_eq!(capture.frames, vec![&b"one"[..], &b"two"[..], &b"six"[..]]);
        assert_eq!(capture.times, vec![0.0, 66.5, 133.0]);
        assert!(upload.image.is_none() && !capture.light_declined);
        let short = String::from_utf8_lossy(&body).replace("[0, 66.5, 133]", "[0, 66.5]");
        assert!(matches!(parse(short.into_bytes(), 1024), Err(ApiError::InvalidRequest(_))));
        let mut without_times = part("user_id", b"alice");
        without_times.extend(part("capture", b"one"));
        without_times.extend_from_slice(b"--XyZ--\r\n");
        assert!(matches!(parse(without_times, 1024), Err(ApiError::MissingField("capture_ms"))));
    }

    #[test]
    fn an_image_over_the_limit_is_payload_too_large() {
        let mut body = part("user_id", b"alice");
        body.extend(part("image", &[7u8; 2000]));
        body.extend_from_slice(b"--XyZ--\r\n");
        assert!(matches!(parse(body, 1000), Err(ApiError::PayloadTooLarge(1000))));
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
            ..ProptestConfig::default()
        })]

        /// Arbitrary bytes after a multipart header: never a panic, never a 5xx.
        #[test]
        fn garbage_bodies_give_client_errors(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Err(e) = parse(body, 1024) {
                prop_assert!(e.status().is_client_error(), "{e:?}");
            }
        }

        /// Structured bodies with arbitrary names and values: parsed or refused with a 4xx code.
        #[test]
        fn arbitrary_fields_give_an_upload_or_a_client_error(
            fields in proptest::collection::vec(("[a-z_]{0,8}", proptest::collection::vec(any::<u8>(), 0..64)), 0..5),
            close in any::<bool>(),
        ) {
            let mut body = Vec::new();
            for (name, value) in &fields {
                body.extend(part(name, value));
            }
            if close {
                body.extend_from_slice(b"--XyZ--\r\n");
            }
            match parse(body, 32) {
                Ok(upload) => {
                    prop_assert!(upload.image.as_ref().is_some_and(|i| !i.is_empty() && i.len() <= 32) || upload.capture.is_some());
                    prop_assert_eq!(UserId::parse(upload.user_id.as_str()).unwrap(), upload.user_id);
                }
                Err(e) => prop_assert!(e.status() != StatusCode::INTERNAL_SERVER_ERROR && e.status().is_client_error(), "{e:?}"),
            }
        }
    }
}
