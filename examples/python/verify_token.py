"""Check a faceauth verification result the way a relying party's backend does.

The token is verified with faceauth's public keys (GET /.well-known/jwks.json, cached by
PyJWKClient and fetched again when a token names a key it has not seen, as after a rotation),
then its audience, issuer, expiry and your login attempt's nonce. No shared secret is involved.

    pip install "pyjwt[crypto]"
    python verify_token.py --faceauth http://127.0.0.1:5000 --audience my-app --nonce N TOKEN
"""

import argparse
import json

import jwt


def verify_result(token: str, faceauth: str, audience: str, nonce: str, issuer: str = "faceauth") -> dict:
    """The token's claims if faceauth signed it for this audience and this login attempt."""
    keys = jwt.PyJWKClient(f"{faceauth}/.well-known/jwks.json")
    signing_key = keys.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["ES256", "EdDSA"],  # never "none", never HS256 with a public key
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"]},
    )
    if claims.get("nonce") != nonce:
        raise jwt.InvalidTokenError("the token answers another login attempt (nonce)")
    return claims


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faceauth", required=True, help="faceauth's base URL")
    parser.add_argument("--audience", required=True)
    parser.add_argument("--nonce", required=True)
    parser.add_argument("--issuer", default="faceauth")
    parser.add_argument("token")
    args = parser.parse_args()
    claims = verify_result(args.token, args.faceauth, args.audience, args.nonce, args.issuer)
    header = jwt.get_unverified_header(args.token)
    print(json.dumps({"kid": header["kid"], "alg": header["alg"], "claims": claims}))
