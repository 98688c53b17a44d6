//! What a relying party does with a result token.

use std::time::Duration;

use super::*;
use faceauth::token::keys::{Algorithm, SigningKey};
use faceauth::token::result::{ResultKey, ResultSigner};

/// What a relying party does with a verification token: fetch the service's JWK set and check
/// the token against it (issuer `faceauth`, as the service's default).
pub async fn verify_with_jwks(app: &TestApp, token: &str) -> Result<ResultClaims, TokenError> {
    let jwks = app.get("/.well-known/jwks.json").await.body;
    let keys = faceauth::token::keys::parse_public_keys(&jwks.to_string()).unwrap();
    // The relying party holds no private key: a throwaway one stands in for the signer's slot.
    let unrelated = SigningKey::generate(Algorithm::Es256).unwrap();
    let checker = ResultSigner::new(
        ResultKey::Asymmetric(unrelated),
        keys,
        "faceauth".into(),
        "faceauth".into(),
        Duration::from_secs(60),
    );
    checker.verify(token)
}
