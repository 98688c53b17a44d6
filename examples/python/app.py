"""Face sign-in for a Flask app: create a faceauth session for the signed-in user, serve a page
that runs the web SDK, check the signed result against faceauth's JWKS (audience and nonce), log in.

    pip install flask requests "pyjwt[crypto]"
    FACEAUTH_URL=http://127.0.0.1:5000 FACEAUTH_SECRET_KEY=... FACEAUTH_CLIENT_KEY=... python app.py
The faceauth service lists this app's origin in CORS_ORIGINS (the page calls it directly).
"""
import html
import json
import os
import secrets

import requests
from flask import Flask, abort, jsonify, redirect, request, session

from verify_token import verify_result

FACEAUTH = os.environ.get("FACEAUTH_URL", "http://127.0.0.1:5000")
SECRET_KEY = os.environ["FACEAUTH_SECRET_KEY"]  # server side only: never sent to the page
CLIENT_KEY = os.environ.get("FACEAUTH_CLIENT_KEY", "")  # publishable
AUDIENCE = "example-app"
# FACEAUTH_PASSKEY=1: sign-ins need the face and a passkey on the user's device (docs/passkeys.md);
# the user registers one first with the SDK's registerPasskey and an enrol session.
FACTORS = ["face", "passkey"] if os.environ.get("FACEAUTH_PASSKEY") == "1" else ["face"]
SDK_INTEGRITY = "sha384-i0G329Ffnfwfw7pC0nXgJmZdqy/zsgy+GuG5RGZwJAF9IYIcvcxCWUqNUdQ85rSF"

app = Flask(__name__)
app.secret_key = os.environ.get("APP_SECRET", secrets.token_hex(32))

PAGE = """<!doctype html><meta charset=utf-8><title>Sign in</title>
<link rel=modulepreload href="{faceauth}/sdk/faceauth.js" integrity="{integrity}" crossorigin=anonymous>
<h1>Hello {user}: confirm it is you</h1><div id=face></div><button id=sign-in>Sign in with your face</button>
<p id=welcome></p>
<script type=module>
import {{ FaceAuthWidget }} from "{faceauth}/sdk/faceauth.js";
const widget = new FaceAuthWidget(document.getElementById("face"), {{ baseUrl: "{faceauth}", apiKey: "{client_key}" }});
document.getElementById("sign-in").onclick = async () => {{
  const {{ session_token, capture, passkey }} = await fetch("/face/start", {{ method: "POST" }}).then((r) => r.json());
  const {{ token }} = await widget.verify({{ userId: {user_json}, sessionToken: session_token, capture, passkey }});
  const done = await fetch("/face/finish", {{ method: "POST", headers: {{ "Content-Type": "application/json" }}, body: JSON.stringify({{ token }}) }});
  document.getElementById("welcome").textContent = (await done.json()).welcome || "Sign-in refused";
}};
</script>"""


@app.get("/login")  # stands in for your own first step (a password, a magic link) that names the user
def login():
    session.clear()
    session["user"] = request.args["user"]
    return redirect("/")


@app.get("/")
def page():
    if "user" not in session:
        return redirect("/login?user=alice")
    user = session["user"]  # escaped for HTML and for the script: it came from a request
    return PAGE.format(faceauth=FACEAUTH, integrity=SDK_INTEGRITY, client_key=CLIENT_KEY, user=html.escape(user),
                       user_json=json.dumps(user).replace("<", "\\u003c"))


@app.post("/face/start")
def start():
    session["nonce"] = secrets.token_urlsafe(24)  # binds the result to this attempt
    body = {"user_id": session["user"], "purpose": "verify", "nonce": session["nonce"], "audience": AUDIENCE,
            "factors": FACTORS}
    created = requests.post(f"{FACEAUTH}/api/sessions", json=body, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10)
    created.raise_for_status()
    return jsonify({k: created.json().get(k) for k in ("session_token", "capture", "passkey")})


@app.post("/face/finish")
def finish():
    try:
        claims = verify_result(request.json["token"], FACEAUTH, AUDIENCE, session.pop("nonce", ""))
    except Exception:  # any failure to verify is a refusal; the reason is not the browser's business
        abort(401)
    if claims["sub"] != session.get("user"):
        abort(401)
    if "passkey" in FACTORS and "hwk" not in claims.get("amr", []):  # a face-only result is not enough here
        abort(401)
    session["authenticated"] = True
    return jsonify({"welcome": f"Welcome, {claims['sub']}"})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
