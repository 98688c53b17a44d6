//! The demo page at `/`: three static files compiled into the binary, under their own
//! Content-Security-Policy (own script and style only, no inline code); API routes keep theirs.
//! And the web SDK at `/sdk/faceauth.js`, which the demo page imports too, with its face guide's
//! files under `/sdk/face-mesh/<release>/`.

use axum::extract::{Path, State};
use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::app::guide::VERSION;
use crate::error::ApiError;

// The face guide (MediaPipe's Emscripten build) compiles WebAssembly and builds its bindings with
// `new Function`: 'wasm-unsafe-eval' and 'unsafe-eval'. Still no inline script and no other
// origin, and nothing on this page passes a string it did not write to eval. A page that refuses
// eval gets the SDK unguided (docs/integration.md).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob:; \
                        media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
                        frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
            (HeaderName::from_static("permissions-policy"), "camera=(self), microphone=(), geolocation=()"),
        ],
        body,
    )
}

pub async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", include_str!("../../web/index.html"))
}

pub async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", include_str!("../../web/app.js"))
}

pub async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", include_str!("../../web/app.css"))
}

const SDK: &str = include_str!("../../web/sdk/faceauth.js");

/// The SDK's Subresource Integrity value (`sha384-…`), as printed in docs/integration.md.
pub fn sdk_integrity() -> &'static str {
    use base64::Engine;
    use sha2::Digest;
    static INTEGRITY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    INTEGRITY.get_or_init(|| {
        format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(SDK)))
    })
}

/// The web SDK, cacheable for a day and revalidated by its digest; pages pin it with `integrity`.
/// Cross-origin pages load it under CORS_ORIGINS like any API call.
pub async fn sdk() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8".to_string()),
            (header::CACHE_CONTROL, "public, max-age=86400".to_string()),
            (header::ETAG, format!("\"{}\"", sdk_integrity())),
        ],
        SDK,
    )
}

/// A file of the face guide's pinned release, cacheable for a year (a new release is a new URL).
/// Not installed, or not one of the release's files: 404, and the SDK runs unguided.
pub async fn guide(State(state): State<AppState>, Path((version, name)): Path<(String, String)>) -> Response {
    match state.guide.as_deref().filter(|_| version == VERSION).and_then(|assets| assets.get(&name)) {
        Some(file) => (
            [(header::CONTENT_TYPE, file.content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")],
            file.body.clone(),
        )
            .into_response(),
        None => ApiError::RouteNotFound.into_response(),
    }
}
