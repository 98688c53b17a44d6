// The web SDK's face guide: MediaPipe Face Mesh served by the service itself (pinned files only),
// and the widget that waits, in a real headless Chromium (software WebGL), for a face that is
// centred, near enough, lit and level before it takes anything; Cancel and Escape; the sentences.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root, sharedBrowser, shots, startService, stopAll, withCamera, y4m } from "./harness.mjs";
import { DEFAULT_MESSAGES, FACE_MESH, GUIDE_LIMITS, describeTries, judgeLook, moveReached } from "../../web/sdk/faceauth.js";

const installed = join(root, "web/guide/node_modules/@mediapipe/face_mesh");
const base = `/sdk/face-mesh/${FACE_MESH.version}/`;
let open;

before(async () => {
  open = await startService();
});

after(stopAll);

test("the guide's files come from the service: the pinned release only, cacheable for a year", async () => {
  for (const [file, type] of [["face_mesh.js", /^text\/javascript/], ["face_mesh_solution_simd_wasm_bin.wasm", /^application\/wasm$/],
    ["face_mesh_solution_packed_assets.data", /^application\/octet-stream$/]]) {
    const response = await fetch(open + base + file);
    assert.equal(response.status, 200, file);
    assert.match(response.headers.get("content-type"), type, file);
    assert.equal(response.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), readFileSync(join(installed, file)), `${file} is the package's`);
  }
  // Only the release's own files: not the rest of the folder, not another version.
  for (const path of [base + "package.json", base + "README.md", base + "..%2F..%2Fpackage.json", "/sdk/face-mesh/0.4.1657299874/face_mesh.js"]) {
    const response = await fetch(open + path);
    assert.equal(response.status, 404, path);
    assert.equal((await response.json()).error.code, "not_found");
  }
  // The loader is pinned in the SDK with its integrity as well.
  const { createHash } = await import("node:crypto");
  assert.equal(FACE_MESH.integrity, "sha384-" + createHash("sha384").update(readFileSync(join(installed, "face_mesh.js"))).digest("base64"));
});

test("loading the guide in a browser downloads what docs/integration.md states", async () => {
  const page = await (await sharedBrowser()).newPage();
  const sizes = [];
  page.on("response", (response) => {
    if (response.url().includes("/sdk/face-mesh/")) sizes.push(response.body().then((body) => body.length));
  });
  await page.goto(open + "/");
  const loaded = await page.evaluate(async () => Boolean(await (await import("/sdk/faceauth.js")).loadFaceGuide()));
  const bytes = await Promise.all(sizes);
  await page.close();
  assert.equal(loaded, true, "the guide runs in headless Chromium (software WebGL) under the demo page's CSP");
  const total = bytes.reduce((a, b) => a + b, 0);
  const stated = `${(total / 2 ** 20).toFixed(1)} MiB\n(${total.toLocaleString("en-US")} bytes`;
  assert.ok(readFileSync(join(root, "docs/integration.md"), "utf8").includes(stated), `docs/integration.md must state ${stated}`);
});

/** Runs `method` of a widget in the page; records every sentence it showed, in order. */
async function guided(page, method, args, options = {}, during = null) {
  await page.goto(open + "/");
  const run = page.evaluate(async ({ method, args, options }) => {
    const { FaceAuthWidget } = await import("/sdk/faceauth.js");
    const host = document.createElement("div");
    document.body.prepend(host);
    const w = new FaceAuthWidget(host, options);
    window.widget = w;
    const said = [];
    new MutationObserver(() => said.push(w.prompt.textContent)).observe(w.prompt, { childList: true, characterData: true, subtree: true });
    const startOval = w.oval.style.left;
    try {
      const result = await w[method](args);
      return { ok: true, result, said, text: w.prompt.textContent, startOval, oval: w.oval.style.left, guide: w.root.dataset.guide };
    } catch (e) {
      return { ok: false, code: e.code, said, text: w.prompt.textContent, startOval, oval: w.oval.style.left, guide: w.root.dataset.guide };
    }
  }, { method, args, options });
  if (during) await during(page);
  return run;
}

test("the widget waits for a centred face, the oval follows it, and the photo is taken only then", async () => {
  // Her photo right of centre for six seconds (the guide loads and looks meanwhile), then centred.
  const file = "dev/Angelina_Jolie/deepface_img2.jpg";
  const video = await y4m([{ file, shift: 160, seconds: 6 }, { file, seconds: 10 }]);
  const outcome = await withCamera(video, async (page) => {
    const result = await guided(page, "enroll", { userId: "guided" }, { captureMs: 600 });
    await page.screenshot({ path: join(shots, "guide-1-enrolled.png"), fullPage: true });
    return result;
  });
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.equal(outcome.guide, "ready");
  const centre = outcome.said.indexOf(DEFAULT_MESSAGES.centre_face);
  const hold = outcome.said.lastIndexOf(DEFAULT_MESSAGES.hold_still);
  assert.ok(centre >= 0, "asked to move to the middle: " + JSON.stringify(outcome.said));
  assert.ok(hold > centre, "held still only once centred: " + JSON.stringify(outcome.said));
  assert.equal(outcome.text, DEFAULT_MESSAGES.enrolled);
  assert.notEqual(outcome.oval, outcome.startOval, "the oval moved to the face");
  const user = await fetch(open + "/api/users/guided").then((r) => r.json());
  assert.equal(user.references, 1, JSON.stringify(user));
});

test("a face kept off-centre: the sentence says what to do; Escape cancels and nothing is sent", async () => {
  const video = await y4m([{ file: "dev/Angelina_Jolie/deepface_img2.jpg", shift: 160, seconds: 4 }]);
  await withCamera(video, async (page) => {
    const waited = await guided(page, "enroll", { userId: "offcentre" }, { captureMs: 600, guideTimeoutMs: 4000 });
    assert.equal(waited.ok, false);
    assert.equal(waited.code, "centre_face", JSON.stringify(waited));
    assert.equal(waited.text, DEFAULT_MESSAGES.centre_face);

    // The keyboard: focus is on Cancel while the camera is open, and Escape stops the flow.
    const cancelled = await guided(page, "enroll", { userId: "offcentre" }, { captureMs: 600 }, async (p) => {
      await p.waitForFunction(() => window.widget?.root.dataset.guide === "centre_face", null, { timeout: 60000 });
      assert.equal(await p.evaluate(() => document.activeElement === window.widget.cancelButton), true, "Cancel has the focus");
      assert.equal(await p.evaluate(() => window.widget.cancelButton.textContent), DEFAULT_MESSAGES.cancel);
      await p.keyboard.press("Escape");
    });
    assert.equal(cancelled.ok, false);
    assert.equal(cancelled.code, "cancelled", JSON.stringify(cancelled));
    assert.equal(cancelled.text, DEFAULT_MESSAGES.cancelled);
    await page.screenshot({ path: join(shots, "guide-2-cancelled.png"), fullPage: true });
  });
  assert.equal((await fetch(open + "/api/users/offcentre")).status, 404, "nothing was sent");
});

test("what stops a capture from starting, and when a move counts as reached", () => {
  const ready = { faces: 1, box: { x: 0.4, y: 0.22, w: 0.2, h: 0.4 }, brightness: 140, yaw: 2, pitch: -5 };
  assert.equal(judgeLook(ready), null);
  assert.equal(judgeLook({ faces: 0 }), "no_face_yet");
  assert.equal(judgeLook({ ...ready, faces: 2 }), "multiple_faces");
  assert.equal(judgeLook({ ...ready, box: { ...ready.box, w: GUIDE_LIMITS.minWidth - 0.01 } }), "face_too_small");
  assert.equal(judgeLook({ ...ready, box: { ...ready.box, x: 0.1, w: 0.8 } }), "too_close");
  assert.equal(judgeLook({ ...ready, box: { ...ready.box, x: 0.7 } }), "centre_face");
  assert.equal(judgeLook({ ...ready, brightness: 30 }), "more_light");
  assert.equal(judgeLook({ ...ready, brightness: 250 }), "face_overexposed");
  assert.equal(judgeLook({ ...ready, yaw: 20 }), "front");
  // A turn counts from where the capture started, on the service's axes (left: yaw up).
  const start = { faces: 1, yaw: 3, pitch: -10 };
  assert.equal(moveReached("turn_left", { faces: 1, yaw: 22, pitch: -10 }, start), true);
  assert.equal(moveReached("turn_left", { faces: 1, yaw: -22, pitch: -10 }, start), false);
  assert.equal(moveReached("turn_right", { faces: 1, yaw: -16, pitch: -10 }, start), true);
  assert.equal(moveReached("look_up", { faces: 1, yaw: 3, pitch: 6 }, start), true);
  assert.equal(moveReached("look_down", { faces: 1, yaw: 3, pitch: 0 }, start), false);
  assert.equal(describeTries(3), "3 tries left.");
  assert.equal(describeTries(1), DEFAULT_MESSAGES.try_left);
  assert.equal(describeTries(0), DEFAULT_MESSAGES.no_tries_left);
  assert.equal(describeTries(undefined), "");
});
