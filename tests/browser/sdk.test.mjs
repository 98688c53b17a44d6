// The web SDK (web/sdk/faceauth.js, served at /sdk/faceauth.js) in headless Chromium against the
// real service: enrolment with a grant, verification within a session, a recorded video played to
// the camera refused by the light challenge (with the sentence the user sees), a photo turned as a
// flat sheet refused at the production defaults, a refused camera.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, call, genuineFrames, photo, root, shots, startService, serviceLogs, stopAll, withCamera, y4m, y4mOfFrames, y4mOfSheet } from "./harness.mjs";
import { DEFAULT_MESSAGES } from "../../web/sdk/faceauth.js";

const SECRET = "sdk-secret-key-0123456789", CLIENT = "sdk-client-key-0123456789";
let keyed;

before(async () => {
  mkdirSync(shots, { recursive: true });
  // Production's access rule: a client key verifies only within a session its backend started.
  keyed = await startService({ API_KEYS: SECRET, CLIENT_API_KEYS: CLIENT, CLIENT_ACCESS: "session" });
});

after(stopAll);

/** Runs the widget's `method` in the page (the demo page as host: it serves the SDK too). */
async function widget(page, base, method, args, options = {}) {
  await page.goto(base + "/");
  return page.evaluate(async ({ method, args, options }) => {
    const { FaceAuthWidget } = await import("/sdk/faceauth.js");
    const host = document.createElement("div");
    document.body.prepend(host);
    const w = new FaceAuthWidget(host, options);
    try {
      const result = await w[method](args);
      return { ok: true, result, text: w.prompt.textContent, live: w.prompt.getAttribute("aria-live"), shown: host.innerText, guide: w.root.dataset.guide };
    } catch (e) {
      return { ok: false, code: e.code, status: e.status, attemptsLeft: e.attemptsLeft, text: w.prompt.textContent, shown: host.innerText, guide: w.root.dataset.guide };
    }
  }, { method, args, options });
}

test("the served module is the package's file, cacheable, with the integrity printed in the docs", async () => {
  const response = await fetch(keyed + "/sdk/faceauth.js");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^text\/javascript/);
  assert.match(response.headers.get("cache-control"), /public, max-age=\d+/);
  const served = Buffer.from(await response.arrayBuffer());
  assert.deepEqual(served, readFileSync(join(root, "web/sdk/faceauth.js")));
  const integrity = "sha384-" + createHash("sha384").update(served).digest("base64");
  for (const doc of ["docs/integration.md", "web/sdk/README.md", "examples/python/app.py", "examples/node/server.mjs"]) {
    assert.ok(readFileSync(join(root, doc), "utf8").includes(integrity),
      `${doc} must print the SDK's integrity ${integrity} (scripts/sdk-integrity.sh writes it)`);
  }
  // The npm package packs: the module, its types and its README.
  const out = mkdtempSync(join(tmpdir(), "faceauth-pack-"));
  try {
    const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", out], { cwd: join(root, "web/sdk") }));
    assert.deepEqual(packed[0].files.map((f) => f.path).sort(), ["README.md", "faceauth.d.ts", "faceauth.js", "package.json"]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("enrols with an enrolment token, then verifies within a session: sentences, a token, no score", async () => {
  const grant = await call(keyed, "/api/enrollments", SECRET, { user_id: "angelina" });
  assert.equal(grant.status, 201);
  const enrolVideo = await y4m([{ file: "dev/Angelina_Jolie/deepface_img1.jpg", seconds: 4 }]);
  const enrolled = await withCamera(enrolVideo, async (page) => {
    const outcome = await widget(page, keyed, "enroll", { userId: "angelina", enrollmentToken: grant.body.enrollment_token },
      { apiKey: CLIENT, captureMs: 600 });
    await page.screenshot({ path: join(shots, "sdk-1-enrolled.png"), fullPage: true });
    return outcome;
  });
  assert.ok(enrolled.ok, JSON.stringify(enrolled));
  assert.equal(enrolled.guide, "ready", "the face guide saw her face ready before the photo was taken");
  assert.equal(enrolled.text, DEFAULT_MESSAGES.enrolled);
  assert.equal(enrolled.live, "polite", "announced to screen readers");
  const user = await fetch(keyed + "/api/users/angelina", { headers: { Authorization: "Bearer " + SECRET } }).then((r) => r.json());
  assert.equal(user.references, 1, JSON.stringify(user));

  const session = await call(keyed, "/api/sessions", SECRET, { user_id: "angelina", purpose: "verify", nonce: "n-0123456789abcdef" });
  assert.equal(session.status, 201);
  const verifyVideo = await y4m([{ file: "dev/Angelina_Jolie/deepface_img2.jpg", seconds: 4 }]);
  const verified = await withCamera(verifyVideo, async (page) => {
    const outcome = await widget(page, keyed, "verify", { userId: "angelina", sessionToken: session.body.session_token },
      { apiKey: CLIENT, captureMs: 600 });
    await page.screenshot({ path: join(shots, "sdk-2-verified.png"), fullPage: true });
    return outcome;
  });
  assert.ok(verified.ok, JSON.stringify(verified));
  assert.equal(verified.result.verified, true);
  assert.match(verified.result.token, /^ey[\w-]+\.[\w-]+\.[\w-]+$/, "a signed result for the backend");
  assert.equal(verified.text, DEFAULT_MESSAGES.verified);
  assert.equal(verified.result.similarity, undefined, "a client key learns pass or fail only");
  assert.doesNotMatch(verified.shown, /\d\.\d\d/, "no score on screen");
});

test("a recording of the person played to the camera follows the prompts, and the light challenge refuses it", async () => {
  // The recording answers two turns only (tests/api/capture.rs): CHALLENGE_MOVES and STEPS are the
  // material's limit. Everything else, the light challenge included, is at its default.
  const challengeEnv = { LIVENESS: "challenge", CHALLENGE_MOVES: "turn_left,turn_right", CHALLENGE_STEPS: "2" };
  const live = await startService(challengeEnv);
  const form = new FormData();
  form.append("user_id", "maria");
  form.append("image", new Blob([readFileSync(photo("video/pexels_woman/frame_0240.jpg"))]), "maria.jpg");
  assert.equal((await fetch(live + "/api/register", { method: "POST", body: form })).status, 201);
  const startSession = async () => {
    const session = await call(live, "/api/sessions", null, { user_id: "maria", purpose: "verify" });
    assert.equal(session.status, 201, JSON.stringify(session.body));
    assert.equal(session.body.capture.prompts.length, 2, "the session carries the plan");
    return session.body;
  };

  // The person's real turns, recorded, played by the fake camera; the SDK shows the colours.
  const session = await startSession();
  const replay = await withCamera(await y4mOfFrames(genuineFrames(session.steps)), async (page) => {
    // Unguided: the recording's turns are timed from the camera's start, and the attacker's client
    // need not wait for a face guide (tests/browser/guide.test.mjs tests the guide).
    const outcome = await widget(page, live, "verify", { userId: "maria", sessionToken: session.session_token, capture: session.capture },
      { guide: false });
    await page.screenshot({ path: join(shots, "sdk-3-recording-refused-by-light.png"), fullPage: true });
    return outcome;
  });
  assert.equal(replay.ok, false);
  assert.equal(replay.code, "light_not_followed", JSON.stringify(replay) + "\n" + serviceLogs("capture refused"));
  // What to do, and how many tries are left (LOCKOUT_MAX_FAILURES, 5 by default, less this one).
  assert.equal(replay.attemptsLeft, 4);
  assert.equal(replay.text, DEFAULT_MESSAGES.light_not_followed + " 4 tries left.", "the user reads what to do, not a code");

  // Refused at the light check, which comes after the continuity, movement and identity checks:
  // the capture the SDK recorded was continuous and followed the prompts.
  assert.match(serviceLogs("capture refused"), /does not follow the screen's colours/);

  // The operator's recording mode: the same attack saved as a file (not sent), filed under
  // replay/, and `faceauth liveness-eval` judges it as the service did.
  const another = await startSession();
  const recorded = await withCamera(await y4mOfFrames(genuineFrames(another.steps)), async (page) => {
    await page.goto(live + "/");
    return page.evaluate(async ({ token, plan }) => {
      const { FaceAuthWidget } = await import("/sdk/faceauth.js");
      const host = document.createElement("div");
      document.body.prepend(host);
      let saved = null;
      const record = { label: "replay", send: false, onFile: async (blob, name) => { saved = { name, text: await blob.text() }; } };
      const result = await new FaceAuthWidget(host, { guide: false }).verify({ userId: "maria", sessionToken: token, capture: plan, record });
      while (!saved) await new Promise((r) => setTimeout(r, 10));
      return { result, saved };
    }, { token: another.session_token, plan: another.capture });
  });
  assert.match(recorded.result.recorded, /^replay-.*\.json$/);
  const file = JSON.parse(recorded.saved.text);
  assert.equal(file.format, "faceauth-capture/1");
  assert.deepEqual(file.plan, another.capture, "the plan it answered, as the session handed it");
  assert.equal(file.frames.length, file.times.length);
  const set = mkdtempSync(join(tmpdir(), "faceauth-liveness-set-"));
  try {
    mkdirSync(join(set, "replay"));
    writeFileSync(join(set, "replay", recorded.saved.name), recorded.saved.text);
    const bin = process.env.FACEAUTH_BIN || join(root, "target/debug/faceauth");
    const env = { PATH: process.env.PATH, MODEL_DIR: join(root, "models"), DATA_DIR: join(set, "data"),
      ORT_DYLIB_PATH: process.env.ORT_DYLIB_PATH || join(root, ".ort/libonnxruntime.so.1.31.1"), ...challengeEnv };
    execFileSync(bin, ["liveness-eval", set, "--out", join(set, "report.json")], { env, stdio: ["ignore", "pipe", "pipe"] });
    const report = JSON.parse(readFileSync(join(set, "report.json"), "utf8"));
    assert.equal(report.captures[0].code, "light_not_followed", JSON.stringify(report.captures));
    assert.equal(report.report.apcer[0].error_rate.errors, 0, "the replay was not accepted");
  } finally {
    rmSync(set, { recursive: true, force: true });
  }
});

test("a photo turned as a flat sheet to answer the prompts is refused at the defaults, and the widget says what to do", async () => {
  // Production's liveness (the default plan, light included, every limit at its default): nothing
  // is set for the material, since the attacker's presentation follows whatever plan is drawn.
  const live = await startService({ LIVENESS: "challenge" });
  const form = new FormData();
  form.append("user_id", "angelina");
  form.append("image", new Blob([readFileSync(photo("dev/Angelina_Jolie/deepface_img1.jpg"))]), "angelina.jpg");
  assert.equal((await fetch(live + "/api/register", { method: "POST", body: form })).status, 201);
  const session = await call(live, "/api/sessions", null, { user_id: "angelina", purpose: "verify" });
  assert.equal(session.status, 201, JSON.stringify(session.body));
  const plan = session.body.capture;
  // Another photo of her, facing the camera, held to it and turned 30 degrees on the plan's schedule.
  const sheet = await y4mOfSheet("dev/Angelina_Jolie/deepface_img2.jpg", plan.prompts);
  const outcome = await withCamera(sheet, async (page) => {
    const outcome = await widget(page, live, "verify", { userId: "angelina", sessionToken: session.body.session_token, capture: plan },
      { guide: false });
    await page.screenshot({ path: join(shots, "sdk-4-flat-sheet-refused.png"), fullPage: true });
    return outcome;
  });
  assert.equal(outcome.ok, false);
  // A sheet's turn shows no parallax: the pose check measures too little turn (the nose does not
  // move against the eyes), and the planarity check refuses a plane that passes it.
  assert.ok(["pose_mismatch", "capture_flat"].includes(outcome.code), JSON.stringify(outcome) + "\n" + serviceLogs("capture refused"));
  // Refused on the move itself (a turned sheet shows a few degrees of head turn at most:
  // tests/pipeline/planarity.rs), not on how the capture started.
  assert.match(serviceLogs("capture refused").split("\n").at(-1), /was not reached in time|moved as a flat picture/);
  assert.equal(outcome.attemptsLeft, 4, "counted");
  assert.equal(outcome.text, DEFAULT_MESSAGES[outcome.code] + " 4 tries left.", "the user reads what to do, not a code");
});

test("a refused camera permission shows its sentence", async () => {
  // No --use-fake-ui-for-media-stream: the permission prompt is answered "block".
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [...CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--deny-permission-prompts"],
  });
  try {
    const page = await browser.newPage();
    const outcome = await widget(page, keyed, "verify", { userId: "angelina", sessionToken: "x" }, { apiKey: CLIENT });
    await page.screenshot({ path: join(shots, "sdk-5-camera-refused.png"), fullPage: true });
    assert.equal(outcome.ok, false);
    assert.equal(outcome.code, "camera_denied");
    assert.equal(outcome.text, DEFAULT_MESSAGES.camera_denied);
  } finally {
    await browser.close();
  }
});
