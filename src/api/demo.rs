//! The demo page at `/`: three static files compiled into the binary, under their own
//! Content-Security-Policy (own script and style only, no inline code); API routes keep theirs.

use axum::http::{HeaderName, header};
use axum::response::IntoResponse;

const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; \
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
