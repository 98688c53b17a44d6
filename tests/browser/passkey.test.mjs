// Face + passkey through the web SDK in headless Chromium, with the DevTools protocol's virtual
// authenticator (WebAuthn.addVirtualAuthenticator) standing in for the phone's platform
// authenticator: register a passkey, then a session that needs the face and the passkey verifies
// end to end and the signed result says both were proven. An authenticator that cannot verify its
// user is not registered. The page runs on http://localhost (WebAuthn refuses IP addresses).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { call, photo, startService, stopAll, withCamera, y4m } from "./harness.mjs";
import { DEFAULT_MESSAGES } from "../../web/sdk/faceauth.js";

const SECRET = "pk-secret-key-0123456789", CLIENT = "pk-client-key-0123456789";
let base;

before(async () => {
  base = (await startService({ API_KEYS: SECRET, CLIENT_API_KEYS: CLIENT, CLIENT_ACCESS: "session" }))
    .replace("127.0.0.1", "localhost");
});

after(stopAll);


async function registerFace(user, file) {
  const form = new FormData();
  form.append("user_id", user);
  form.append("image", new Blob([readFileSync(photo(file))], { type: "image/jpeg" }), "face.jpg");
  const response = await fetch(base + "/api/register", { method: "POST", body: form, headers: { Authorization: "Bearer " + SECRET } });
  assert.equal(response.status, 201, await response.text());
}

async function authenticator(page, uv) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: uv,
      isUserVerified: uv, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

async function inPage(page, method, args) {
  await page.goto(base + "/");
  return page.evaluate(async ({ method, args, key }) => {
    const { FaceAuthWidget } = await import("/sdk/faceauth.js");
    const host = document.createElement("div");
    document.body.prepend(host);
    const w = new FaceAuthWidget(host, { apiKey: key, captureMs: 600 });
    try {
      return { ok: true, result: await w[method](args), text: w.prompt.textContent };
    } catch (e) {
      return { ok: false, code: e.code, status: e.status, text: w.prompt.textContent, detail: e.message };
    }
  }, { method, args, key: CLIENT });
}

const enrolSession = async (user) =>
  (await call(base, "/api/sessions", SECRET, { user_id: user, purpose: "enroll" })).body.session_token;

test("a passkey registered through the SDK, then face + passkey verifies and the token says so", async () => {
  await registerFace("angelina", "dev/Angelina_Jolie/deepface_img1.jpg");
  const video = await y4m([{ file: "dev/Angelina_Jolie/deepface_img2.jpg", seconds: 6 }]);
  await withCamera(video, async (page) => {
    const { cdp, authenticatorId } = await authenticator(page, true);
    const registered = await inPage(page, "registerPasskey", { userId: "angelina", sessionToken: await enrolSession("angelina") });
    assert.ok(registered.ok, JSON.stringify(registered));
    assert.equal(registered.text, DEFAULT_MESSAGES.passkey_registered);
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    assert.equal(credentials.length, 1, "the device holds the credential");

    const session = await call(base, "/api/sessions", SECRET, { user_id: "angelina", purpose: "verify", factors: ["face", "passkey"] });
    assert.equal(session.status, 201, JSON.stringify(session.body));
    const verified = await inPage(page, "verify", { userId: "angelina", sessionToken: session.body.session_token, passkey: session.body.passkey });
    assert.ok(verified.ok, JSON.stringify(verified));
    assert.equal(verified.result.verified, true);
    const claims = JSON.parse(Buffer.from(verified.result.token.split(".")[1], "base64url"));
    assert.deepEqual(claims.amr, ["face", "hwk", "user"]);
    assert.equal(claims.passkey_id, registered.result.credential_id);
    const view = await fetch(`${base}/api/sessions/${session.body.session_id}`, { headers: { Authorization: "Bearer " + SECRET } }).then((r) => r.json());
    assert.deepEqual(view.amr, ["face", "hwk", "user"]);

    // The same session again, with the device: spent, and the SDK says to start again.
    const again = await inPage(page, "verify", { userId: "angelina", sessionToken: session.body.session_token, passkey: session.body.passkey });
    assert.equal(again.code, "invalid_session", JSON.stringify(again));
    assert.equal(again.text, DEFAULT_MESSAGES.session_expired);
  });
});

test("an authenticator that cannot verify its user is not registered, with a sentence", async () => {
  await registerFace("aniston", "dev/Jennifer_Aniston/deepface_img3.jpg");
  const video = await y4m([{ file: "dev/Jennifer_Aniston/deepface_img3.jpg", seconds: 2 }]);
  await withCamera(video, async (page) => {
    await authenticator(page, false);
    const refused = await inPage(page, "registerPasskey", { userId: "aniston", sessionToken: await enrolSession("aniston") });
    assert.equal(refused.ok, false);
    // Chromium refuses the ceremony itself (user verification is required), or the server does.
    assert.ok(["passkey_cancelled", "passkey_registration_refused"].includes(refused.code), JSON.stringify(refused));
    assert.ok([DEFAULT_MESSAGES.passkey_cancelled, DEFAULT_MESSAGES.passkey_registration_refused].includes(refused.text));
    const user = await fetch(base + "/api/users/aniston", { headers: { Authorization: "Bearer " + SECRET } }).then((r) => r.json());
    assert.deepEqual(user.passkeys, [], "nothing stored");
  });
});

test("the demo page registers a passkey and verifies the chosen photo with face + passkey", async () => {
  await registerFace("obama", "dev/Barack_Obama/facerec_obama.jpg");
  const video = await y4m([{ file: "dev/Barack_Obama/facerec_obama.jpg", seconds: 2 }]);
  await withCamera(video, async (page) => {
    await authenticator(page, true);
    await page.goto(base + "/");
    await page.fill("#api-key", SECRET);
    await page.fill("#user-id", "obama");
    await page.click("#passkey-register");
    await page.waitForSelector('#outcome[data-outcome="passkey-registered"]');
    await page.setInputFiles("#file", photo("dev/Barack_Obama/facerec_obama2.jpg"));
    await page.click("#passkey-verify");
    await page.waitForSelector('#outcome[data-outcome="verified"], #outcome[data-outcome="error"], #outcome[data-outcome="not-verified"]');
    assert.equal(await page.getAttribute("#outcome", "data-amr"), "face hwk user", await page.textContent("#outcome"));
  });
});
