// The backend examples against the real service: the Python one (Flask) end to end in Chromium
// with a fake camera showing the user, the Node one (Express + jose) through its token check.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { call, photo, root, shots, startProcess, startService, stopAll, withCamera, y4m } from "./harness.mjs";

const SECRET = "example-secret-key-0123456789", CLIENT = "example-client-key-0123456789";
let faceauth, pythonPort, nodePort;

const freePort = () => new Promise((resolve) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

const exampleEnv = (port) => ({
  PATH: process.env.PATH, PORT: String(port), FACEAUTH_URL: faceauth, FACEAUTH_SECRET_KEY: SECRET, FACEAUTH_CLIENT_KEY: CLIENT,
});

before(async () => {
  mkdirSync(shots, { recursive: true });
  [pythonPort, nodePort] = [await freePort(), await freePort()];
  faceauth = await startService({
    API_KEYS: SECRET, CLIENT_API_KEYS: CLIENT, CLIENT_ACCESS: "session",
    CORS_ORIGINS: `http://127.0.0.1:${pythonPort},http://127.0.0.1:${nodePort}`,
  });
  const form = new FormData();
  form.append("user_id", "angelina");
  form.append("image", new Blob([readFileSync(photo("dev/Angelina_Jolie/deepface_img1.jpg"))]), "a.jpg");
  const registered = await fetch(faceauth + "/api/register", { method: "POST", body: form, headers: { Authorization: "Bearer " + SECRET } });
  assert.equal(registered.status, 201);
});

after(stopAll);

test("the Python example signs a user in end to end: session, SDK with the camera, JWKS check", async () => {
  const python = process.env.PYTHON || join(root, ".venv/bin/python");
  const base = await startProcess(python, [join(root, "examples/python/app.py")],
    { cwd: join(root, "examples/python"), env: exampleEnv(pythonPort) }, /Running on (http:\/\/127\.0\.0\.1:\d+)/);
  const camera = await y4m([{ file: "dev/Angelina_Jolie/deepface_img2.jpg", seconds: 5 }]);
  const welcome = await withCamera(camera, async (page) => {
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(base + "/login?user=angelina");
    await page.click("#sign-in");
    await page.waitForFunction(() => document.getElementById("welcome").textContent !== "", null, { timeout: 30000 });
    await page.screenshot({ path: join(shots, "example-python-welcome.png"), fullPage: true });
    assert.deepEqual(errors, []);
    return page.locator("#welcome").textContent();
  });
  assert.equal(welcome, "Welcome, angelina");
  // A token without the attempt it answers (no session cookie, no nonce) is refused.
  const forged = await fetch(base + "/face/finish", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"token":"x.y.z"}' });
  assert.equal(forged.status, 401);
});

test("the Node example creates a session and accepts its token once, for its user and nonce", async () => {
  const base = await startProcess("node", [join(root, "examples/node/server.mjs")],
    { cwd: join(root, "examples/node"), env: exampleEnv(nodePort) }, /example listening on (http:\/\/[0-9.:]+)/);
  const login = await fetch(base + "/login?user=angelina", { redirect: "manual" });
  const cookie = login.headers.get("set-cookie").split(";")[0];
  const started = await fetch(base + "/face/start", { method: "POST", headers: { cookie } }).then((r) => r.json());
  assert.ok(started.session_token);

  // What the SDK does in the page: the photo and the session token, with the publishable key.
  const form = new FormData();
  form.append("user_id", "angelina");
  form.append("session_token", started.session_token);
  form.append("image", new Blob([readFileSync(photo("dev/Angelina_Jolie/deepface_img4.jpg"))]), "face.jpg");
  const verified = await fetch(faceauth + "/api/verify", { method: "POST", body: form, headers: { Authorization: "Bearer " + CLIENT } })
    .then((r) => r.json());
  assert.equal(verified.verified, true, JSON.stringify(verified));

  const finish = (token, headers = {}) => fetch(base + "/face/finish", {
    method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify({ token }),
  });
  assert.equal((await finish(verified.token)).status, 401, "not without the login session that asked");
  const done = await finish(verified.token, { cookie });
  assert.equal(done.status, 200);
  assert.deepEqual(await done.json(), { welcome: "Welcome, angelina" });
  assert.equal((await finish(verified.token, { cookie })).status, 401, "the nonce is spent: once only");

  // A genuine faceauth token for the same user, minted for another attempt (no audience, no nonce
  // of this app: what an attacker holding another relying party's result would bring) is refused.
  const again = await fetch(base + "/face/start", { method: "POST", headers: { cookie } }).then((r) => r.json());
  assert.ok(again.session_token);
  const foreign = await call(faceauth, "/api/sessions", SECRET, { user_id: "angelina", purpose: "verify" });
  const foreignForm = new FormData();
  foreignForm.append("user_id", "angelina");
  foreignForm.append("session_token", foreign.body.session_token);
  foreignForm.append("image", new Blob([readFileSync(photo("dev/Angelina_Jolie/deepface_img5.jpg"))]), "face.jpg");
  const foreignResult = await fetch(faceauth + "/api/verify", { method: "POST", body: foreignForm, headers: { Authorization: "Bearer " + CLIENT } })
    .then((r) => r.json());
  assert.equal(foreignResult.verified, true, JSON.stringify(foreignResult));
  assert.equal((await finish(foreignResult.token, { cookie })).status, 401, "another attempt's token");
});
