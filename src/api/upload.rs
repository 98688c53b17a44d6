//! The multipart body of register/verify (`user_id` + `image`), with every failure mapped to the envelope.

use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use bytes::{Bytes, BytesMut};

use super::AppState;
use super::error::ApiError;
use crate::domain::UserId;

#[derive(Debug)]
pub struct Upload {
    pub user_id: UserId,
    pub image: Bytes,
}

/// The longest user_id field read before refusing it (ids are at most 128 characters).
const MAX_USER_ID_FIELD: usize = 1024;

fn multipart_error(err: MultipartError, limit: usize) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(limit)
    } else {
        ApiError::InvalidRequest(format!("malformed multipart body: {}", err.body_text()))
    }
}

impl FromRequest<AppState> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
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
        let result = read_fields(&mut multipart, state.max_upload_bytes).await;
        if result.is_err() {
            // Answering before the client has finished sending would reset its connection; read
            // the rest (bounded by the body limit) and discard it, so it gets the error envelope.
            while let Ok(Some(mut field)) = multipart.next_field().await {
                while let Ok(Some(_)) = field.chunk().await {}
            }
        }
        result
    }
}

async fn read_fields(multipart: &mut Multipart, limit: usize) -> Result<Upload, ApiError> {
    let (mut user_id, mut image): (Option<Bytes>, Option<Bytes>) = (None, None);
    while let Some(mut field) = multipart.next_field().await.map_err(|e| multipart_error(e, limit))? {
        let name = field.name().unwrap_or_default().to_string();
        let (slot, cap) = match name.as_str() {
            "user_id" => (&mut user_id, MAX_USER_ID_FIELD),
            "image" => (&mut image, limit),
            // Unknown fields are read past (within the body limit) and ignored.
            _ => {
                while field.chunk().await.map_err(|e| multipart_error(e, limit))?.is_some() {}
                continue;
            }
        };
        if slot.is_some() {
            return Err(ApiError::DuplicateField(name));
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
            if buf.len() + chunk.len() > cap {
                return Err(if cap == MAX_USER_ID_FIELD {
                    ApiError::InvalidUserId("user_id is longer than 128 characters".into())
                } else {
                    ApiError::PayloadTooLarge(limit)
                });
            }
            buf.extend_from_slice(&chunk);
        }
        *slot = Some(buf.freeze());
    }
    let raw_id = user_id.ok_or(ApiError::MissingField("user_id"))?;
    let text =
        std::str::from_utf8(&raw_id).map_err(|_| ApiError::InvalidUserId("user_id is not valid UTF-8".into()))?;
    let user_id = UserId::parse(text).map_err(|e| ApiError::InvalidUserId(e.to_string()))?;
    let image = image.ok_or(ApiError::MissingField("image"))?;
    if image.is_empty() {
        return Err(ApiError::InvalidImage("the image field is empty".into()));
    }
    Ok(Upload { user_id, image })
}
