//! The WebAuthn relying party: which site passkeys belong to and which origins may use them.

use url::Url;

use super::env::{Parser, Var};

/// PASSKEY_RP_ID, PASSKEY_ORIGINS, PASSKEY_RP_NAME. Absent: passkeys are off (production without
/// PASSKEY_RP_ID); development defaults to `localhost` on any port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyConfig {
    /// The registrable domain passkeys are scoped to (`example.com`); browsers refuse an RP id that
    /// is not the page's host or a suffix of it.
    pub rp_id: String,
    /// What authenticators show beside the credential.
    pub rp_name: String,
    /// The exact origins the SDK runs on (`https://login.example.com`).
    pub origins: Vec<Url>,
    /// Development on localhost: any port of the origins' hosts.
    pub any_port: bool,
}

impl PasskeyConfig {
    pub(super) fn parse(p: &mut Parser, production: bool) -> Option<Self> {
        let rp_name = p.string(Var::PasskeyRpName, "faceauth");
        let Some(rp_id) = p.get(Var::PasskeyRpId).map(str::to_ascii_lowercase) else {
            if p.get(Var::PasskeyOrigins).is_some() {
                p.problem("PASSKEY_ORIGINS is set but PASSKEY_RP_ID is not: name the site passkeys belong to");
            }
            // Development: the demo page on localhost (the browser's WebAuthn needs a host name).
            return (!production).then(|| Self {
                rp_id: "localhost".into(),
                rp_name,
                origins: vec![Url::parse("http://localhost").expect("a URL")],
                any_port: true,
            });
        };
        let listed = p.list(Var::PasskeyOrigins);
        let listed = if listed.is_empty() { vec![format!("https://{rp_id}")] } else { listed };
        let mut origins = Vec::new();
        for text in listed {
            match Url::parse(&text) {
                Ok(url) if url.scheme() == "https" || url.host_str() == Some("localhost") => origins.push(url),
                Ok(_) => p.problem(format!(
                    "PASSKEY_ORIGINS: {text} is not https: browsers offer passkeys only to secure origins"
                )),
                Err(e) => p.problem(format!("PASSKEY_ORIGINS: {text} is not a URL ({e})")),
            }
        }
        Some(Self { rp_id, rp_name, origins, any_port: false })
    }
}
