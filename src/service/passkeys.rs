//! Passkeys: WebAuthn credentials kept beside the user's face references, so that a verify can
//! need the person (the face) and a device they hold (a platform authenticator or security key)
//! together. The WebAuthn ceremony itself (client data, origin, RP id hash, flags, signature,
//! counter) is checked by `webauthn-rs`; this module decides what is signed (`binding`), where
//! credentials live and who may add one.

mod binding;
mod error;
mod flows;
mod party;
mod values;

pub use binding::{Answer as PasskeyAnswer, challenge};
pub use error::PasskeyError;
pub use flows::PasskeyFactor;
pub use party::{PasskeySettings, REGISTRATION_TTL, RelyingParty};
pub use values::{PasskeyAuthority, PasskeyInfo, PasskeyProof, RegistrationOptions, asked};
