//! Starts the real `faceauth` binary on a free port, against a real S3 emulator (moto server) or a
//! temporary folder, with the real test models; typed request helpers for the tests. One file per
//! concern: the app (`app.rs`), the servers beside it (`processes.rs`), photos and keys
//! (`fixtures.rs`), a relying party's token check (`jwks.rs`).

mod app;
mod fixtures;
mod jwks;
mod processes;

pub use app::*;
pub use fixtures::*;
pub use jwks::*;
pub use processes::*;

pub use crate::relay::Relay;
pub use faceauth::token::TokenError;
pub use faceauth::token::result::ResultClaims;
