// The demo page at `/` in a real headless Chromium (Debian's), against the real service on
// loopback with the test models. Screenshots of each state go to target/browser/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { genuineFrames, photo, shots, sharedBrowser, startService, stopAll, withCamera, y4m, y4mOfFrames } from "./harness.mjs";

let base, browser;

before(async () => {
  mkdirSync(shots, { recursive: true });
  base = await startService();
  browser = await sharedBrowser();
});

after(stopAll);

async function act(page, button, file) {
  await page.setInputFiles("#file", photo(file));
  await page.click(button);
  await page.waitForFunction(() => {
    const o = document.getElementById("outcome").dataset.outcome;
    return o && o !== "pending";
  });
  return page.locator("#outcome");
}

test("register, verify the same person, reject another, and explain an error", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // HTTP errors the test provokes (422, favicon 404) are logged too; script errors and CSP refusals are not expected.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  const response = await page.goto(base + "/");
  const csp = response.headers()["content-security-policy"];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(await page.locator("script:not([src])").count(), 0, "no inline scripts");
  // Every control has an accessible name.
  for (const id of ["api-key", "user-id", "file"]) {
    assert.equal(await page.locator(`label[for=${id}]`).count(), 1, `label for #${id}`);
  }
  await page.screenshot({ path: join(shots, "0-start.png"), fullPage: true });

  await page.fill("#user-id", "angelina");
  let outcome = await act(page, "#register", "dev/Angelina_Jolie/deepface_img1.jpg");
  assert.equal(await outcome.getAttribute("data-outcome"), "registered");
  assert.match(await outcome.textContent(), /Registered angelina/);
  await page.screenshot({ path: join(shots, "1-registered.png"), fullPage: true });

  outcome = await act(page, "#verify", "dev/Angelina_Jolie/deepface_img2.jpg");
  assert.equal(await outcome.getAttribute("data-outcome"), "verified");
  assert.match(await outcome.textContent(), /^Verified/);
  assert.match(await page.locator("#similarity-text").textContent(), /threshold 0\.472/);
  assert.ok((await page.locator("#timings dt").allTextContents()).includes("detect"), "per-stage timings shown");
  assert.match(await page.locator("#raw").textContent(), /"verified": true/);
  await page.screenshot({ path: join(shots, "2-verified.png"), fullPage: true });

  outcome = await act(page, "#verify", "dev/Jennifer_Aniston/deepface_img3.jpg");
  assert.equal(await outcome.getAttribute("data-outcome"), "not-verified");
  assert.match(await outcome.textContent(), /^Not verified/);
  await page.screenshot({ path: join(shots, "3-not-verified.png"), fullPage: true });

  outcome = await act(page, "#verify", "special/no_face_rocket_launch.jpg");
  assert.equal(await outcome.getAttribute("data-outcome"), "error");
  assert.match(await outcome.textContent(), /no_face — no face was found: face the camera/);
  await page.screenshot({ path: join(shots, "4-error-no-face.png"), fullPage: true });
  assert.deepEqual(errors, [], "no script errors or CSP violations");
});

test("works on a phone-sized viewport without a camera", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(base + "/");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
  await page.fill("#user-id", "angelina");
  const outcome = await act(page, "#verify", "dev/Angelina_Jolie/deepface_img4.jpg");
  assert.equal(await outcome.getAttribute("data-outcome"), "verified");
  await page.screenshot({ path: join(shots, "5-phone.png"), fullPage: true });
  await context.close();
});

test("sends the API key from sessionStorage as a bearer token", async () => {
  const page = await browser.newPage();
  await page.goto(base + "/");
  await page.fill("#api-key", "demo-key-0123456789");
  let sent;
  page.on("request", (r) => r.url().endsWith("/api/verify") && (sent = r.headers()["authorization"]));
  await page.fill("#user-id", "angelina");
  await act(page, "#verify", "dev/Angelina_Jolie/deepface_img2.jpg");
  assert.equal(sent, "Bearer demo-key-0123456789");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("faceauth-api-key")), "demo-key-0123456789");
});

test("the camera path captures a still frame and sends it", async () => {
  const page = await browser.newPage();
  await page.goto(base + "/");
  await page.fill("#user-id", "angelina");
  await page.click("#camera-start");
  await page.waitForSelector("#camera-capture:not([hidden])");
  await page.waitForFunction(() => document.getElementById("video").videoWidth > 0);
  await page.click("#camera-capture");
  await page.waitForSelector("#preview:not([hidden])");
  assert.equal(await page.locator("#video").isHidden(), true, "the camera closes after the still");
  await page.click("#verify");
  await page.waitForFunction(() => !["", "pending"].includes(document.getElementById("outcome").dataset.outcome));
  // The synthetic camera shows a test pattern, not a face: the service's answer is shown as an error.
  assert.equal(await page.locator("#outcome").getAttribute("data-outcome"), "error");
  assert.match(await page.locator("#outcome").textContent(), /no_face/);
  assert.match(await page.locator("#raw").textContent(), /"code": "no_face"/);
  await page.screenshot({ path: join(shots, "6-camera.png"), fullPage: true });
});

test("with keys: a secret key does everything, a client key verifies and registers only with a grant", async () => {
  const secret = "demo-secret-key-0123456789", client = "demo-client-key-0123456789";
  const keyed = await startService({ API_KEYS: secret, CLIENT_API_KEYS: client });
  const page = await browser.newPage();
  await page.goto(keyed + "/");
  assert.match(await page.locator("#key-kinds").textContent(), /client key/);
  await page.fill("#user-id", "angelina");
  await page.fill("#api-key", secret);
  let outcome = await act(page, "#register", "dev/Angelina_Jolie/deepface_img1.jpg");
  assert.equal(await outcome.getAttribute("data-outcome"), "registered");

  await page.fill("#api-key", client);
  outcome = await act(page, "#verify", "dev/Angelina_Jolie/deepface_img2.jpg");
  assert.equal(await outcome.getAttribute("data-outcome"), "verified");
  outcome = await act(page, "#register", "dev/Angelina_Jolie/deepface_img4.jpg");
  assert.equal(await outcome.getAttribute("data-outcome"), "error");
  assert.match(await outcome.textContent(), /403: enrollment_required — .*enrollment_token.*client key/);
  await page.screenshot({ path: join(shots, "7-client-key-refused.png"), fullPage: true });

  // The backend's part, done here with the secret key: a grant for this user, handed to the page.
  const grant = await fetch(keyed + "/api/enrollments", {
    method: "POST",
    headers: { "Authorization": "Bearer " + secret, "Content-Type": "application/json" },
    body: JSON.stringify({ user_id: "angelina" }),
  }).then((r) => r.json());
  await page.fill("#enrollment-token", grant.enrollment_token);
  outcome = await act(page, "#register", "dev/Angelina_Jolie/deepface_img4.jpg");
  assert.equal(await outcome.getAttribute("data-outcome"), "registered");
  assert.match(await outcome.textContent(), /2 references/);
  await page.screenshot({ path: join(shots, "8-client-key-with-grant.png"), fullPage: true });
});

async function challengeOutcome(page) {
  await page.waitForFunction(() => !["", "pending"].includes(document.getElementById("outcome").dataset.outcome), null, { timeout: 30000 });
  return page.locator("#outcome");
}

test("the challenge flow: a still picture and a recording of her real turns are refused", async () => {
  // The pexels recording answers two turns only (tests/api/capture.rs): the moves and steps are the
  // material's limit; the light challenge and every threshold are at their defaults.
  const live = await startService({ LIVENESS: "challenge", CHALLENGE_MOVES: "turn_left,turn_right", CHALLENGE_STEPS: "2" });
  const form = new FormData();
  form.append("user_id", "maria");
  form.append("image", new Blob([readFileSync(photo("video/pexels_woman/frame_0240.jpg"))]), "maria.jpg");
  assert.equal((await fetch(live + "/api/register", { method: "POST", body: form })).status, 201);

  // The camera shows one photo of her, however the flow asks her to turn.
  const still = await y4m([{ file: "video/pexels_woman/frame_0240.jpg", seconds: 2 }]);
  await withCamera(still, async (page) => {
    await page.goto(live + "/");
    await page.fill("#user-id", "maria");
    await page.click("#challenge-start");
    const outcome = await challengeOutcome(page);
    await page.screenshot({ path: join(shots, "9-challenge-static-picture.png"), fullPage: true });
    assert.equal(await outcome.getAttribute("data-outcome"), "error");
    assert.match(await outcome.textContent(), /422: (capture_incomplete|capture_discontinuous|pose_mismatch) — /);
  });

  // Her real turns, recorded and played to the camera: the page shows the plan's colours, the
  // recording does not reflect them. The test takes the challenge itself (the plan is the user's
  // pending one, so the page is given the same), films its steps, and hands it to the page.
  const challenge = await fetch(live + "/api/challenges", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user_id: "maria" }),
  }).then((r) => r.json());
  await withCamera(await y4mOfFrames(genuineFrames(challenge.steps)), async (page) => {
    await page.route("**/api/challenges", (route) => route.fulfill({ status: 201, json: challenge }));
    await page.goto(live + "/");
    await page.fill("#user-id", "maria");
    await page.click("#challenge-start");
    const outcome = await challengeOutcome(page);
    await page.screenshot({ path: join(shots, "10-challenge-recording.png"), fullPage: true });
    assert.equal(await outcome.getAttribute("data-outcome"), "error");
    assert.match(await outcome.textContent(), /422: light_not_followed — /);
  });
});
