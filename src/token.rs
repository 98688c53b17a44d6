//! JWTs (RFC 7519). HS256 under keys derived from SECRET_KEY for what only faceauth itself reads
//! back (enrolment grants, challenges, sessions); verification results signed ES256/EdDSA for
//! relying parties (`result`, keys in `keys`).
//!
//! HS256 is a few lines over `hmac` + `sha2` (both already needed); the asymmetric signatures use the
//! RustCrypto `p256` and `ed25519-dalek` crates, the JWS framing around them is a few lines here.

mod hs256;
pub mod keys;
pub mod result;

pub use hs256::{Hs256, ISSUER, TokenError, UserClaims, now};
