// Face sign-in for an Express app: create a faceauth session for the signed-in user, serve a page
// that runs the web SDK, check the signed result against faceauth's JWKS (audience and nonce), log in.
//   npm ci && FACEAUTH_URL=http://127.0.0.1:5000 FACEAUTH_SECRET_KEY=... FACEAUTH_CLIENT_KEY=... node server.mjs
// The faceauth service lists this app's origin in CORS_ORIGINS (the page calls it directly).
import { randomBytes } from "node:crypto";
import express from "express";
import { createRemoteJWKSet, jwtVerify } from "jose";

const FACEAUTH = process.env.FACEAUTH_URL || "http://127.0.0.1:5000";
const SECRET_KEY = process.env.FACEAUTH_SECRET_KEY; // server side only: never sent to the page
const CLIENT_KEY = process.env.FACEAUTH_CLIENT_KEY || ""; // publishable
const AUDIENCE = "example-app";
// FACEAUTH_PASSKEY=1: sign-ins need the face and a passkey on the user's device (docs/passkeys.md).
const FACTORS = process.env.FACEAUTH_PASSKEY === "1" ? ["face", "passkey"] : ["face"];
const SDK_INTEGRITY = "sha384-i0G329Ffnfwfw7pC0nXgJmZdqy/zsgy+GuG5RGZwJAF9IYIcvcxCWUqNUdQ85rSF";
const jwks = createRemoteJWKSet(new URL(`${FACEAUTH}/.well-known/jwks.json`));
const sessions = new Map(); // cookie -> { user, nonce, authenticated }: your own session store

const app = express();
app.use(express.json());
app.use((req, res, next) => {
  const id = /(?:^|; )sid=(\w+)/.exec(req.headers.cookie || "")?.[1];
  req.session = sessions.get(id);
  next();
});

// Stands in for your own first step (a password, a magic link) that names the user.
app.get("/login", (req, res) => {
  const id = randomBytes(24).toString("hex");
  sessions.set(id, { user: String(req.query.user) });
  res.cookie("sid", id, { httpOnly: true, sameSite: "strict" }).redirect("/");
});

app.get("/", (req, res) => {
  if (!req.session) return res.redirect("/login?user=alice");
  const user = JSON.stringify(req.session.user).replaceAll("<", "\\u003c");
  res.type("html").send(`<!doctype html><meta charset=utf-8><title>Sign in</title>
<link rel=modulepreload href="${FACEAUTH}/sdk/faceauth.js" integrity="${SDK_INTEGRITY}" crossorigin=anonymous>
<div id=face></div><button id=sign-in>Sign in with your face</button><p id=welcome></p>
<script type=module>
import { FaceAuthWidget } from "${FACEAUTH}/sdk/faceauth.js";
const widget = new FaceAuthWidget(document.getElementById("face"), { baseUrl: "${FACEAUTH}", apiKey: "${CLIENT_KEY}" });
document.getElementById("sign-in").onclick = async () => {
  const { session_token, capture, passkey } = await fetch("/face/start", { method: "POST" }).then((r) => r.json());
  const { token } = await widget.verify({ userId: ${user}, sessionToken: session_token, capture, passkey });
  const done = await fetch("/face/finish", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
  document.getElementById("welcome").textContent = done.ok ? (await done.json()).welcome : "Sign-in refused";
};
</script>`);
});

app.post("/face/start", async (req, res) => {
  if (!req.session) return res.sendStatus(401);
  req.session.nonce = randomBytes(24).toString("base64url"); // binds the result to this attempt
  const created = await fetch(`${FACEAUTH}/api/sessions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${SECRET_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ user_id: req.session.user, purpose: "verify", nonce: req.session.nonce, audience: AUDIENCE, factors: FACTORS }),
  });
  if (!created.ok) return res.sendStatus(502);
  const { session_token, capture, passkey } = await created.json();
  res.json({ session_token, capture, passkey });
});

app.post("/face/finish", async (req, res) => {
  const expected = req.session?.nonce;
  if (req.session) delete req.session.nonce; // one result per attempt
  try {
    const { payload } = await jwtVerify(String(req.body?.token), jwks, { issuer: "faceauth", audience: AUDIENCE, algorithms: ["ES256", "EdDSA"] });
    if (!expected || payload.nonce !== expected || payload.sub !== req.session.user) throw new Error("another attempt or user");
    if (FACTORS.includes("passkey") && !payload.amr?.includes("hwk")) throw new Error("a face-only result");
    req.session.authenticated = true;
    res.json({ welcome: `Welcome, ${payload.sub}` });
  } catch {
    res.sendStatus(401); // the reason is not the browser's business
  }
});

const server = app.listen(Number(process.env.PORT || 8000), "127.0.0.1", () =>
  console.log(`example listening on http://127.0.0.1:${server.address().port}`));
