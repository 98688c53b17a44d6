// The faceauth demo: one photo (file or camera still) sent to /api/register or /api/verify, and
// the challenge flow. The camera, the capture and the challenge's prompts are the web SDK's
// (/sdk/faceauth.js, the module integrators use); this page adds the developer view: the API key
// field, raw JSON, scores and stage timings.
import { openCamera, closeCamera, captureFrame, recordCapture, recordingFile, saveRecording, DEFAULT_MESSAGES, FaceAuthClient } from "/sdk/faceauth.js";

const $ = (id) => document.getElementById(id);
let photo = null; // Blob to send
let stream = null;

const keyInput = $("api-key");
keyInput.value = sessionStorage.getItem("faceauth-api-key") || "";
keyInput.addEventListener("input", () => sessionStorage.setItem("faceauth-api-key", keyInput.value));

function showPreview(blob) {
  photo = blob;
  const img = $("preview");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
  img.hidden = false;
}

$("file").addEventListener("change", (e) => {
  const file = e.target.files && e.target.files[0];
  if (file) showPreview(file);
});

if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
  $("camera-start").disabled = true;
  $("camera-note").textContent = "No camera access here (it needs HTTPS or localhost): upload a photo instead.";
}

$("camera-start").addEventListener("click", async () => {
  const video = $("video");
  video.hidden = false;
  try {
    stream = await openCamera(video);
    $("camera-capture").hidden = false;
    $("camera-note").textContent = "";
  } catch (err) {
    video.hidden = true;
    $("camera-note").textContent = err.sentence + " (" + err.code + ") Or upload a photo instead.";
  }
});

$("camera-capture").addEventListener("click", async () => {
  const { blob } = await captureFrame($("video"));
  if (blob) showPreview(blob);
  closeCamera(stream);
  $("video").hidden = true;
  $("camera-capture").hidden = true;
});

function render(kind, status, body) {
  $("result").hidden = false;
  $("raw").textContent = JSON.stringify(body, null, 2);
  const outcome = $("outcome");
  const sim = $("similarity");
  const timings = $("timings");
  timings.replaceChildren();
  sim.hidden = true;
  if (body && body.error) {
    outcome.dataset.outcome = "error";
    outcome.textContent = "Error " + status + ": " + body.error.code + " — " + body.error.message;
    if (status === 403) outcome.textContent += " (This key is a client key: see “API key” above for what it may do.)";
    return;
  }
  if (kind === "register") {
    outcome.dataset.outcome = "registered";
    outcome.textContent = "Registered " + body.user_id + " (" + body.references + " reference" + (body.references === 1 ? "" : "s") + ").";
  } else {
    outcome.dataset.outcome = body.verified ? "verified" : "not-verified";
    outcome.textContent = body.verified ? "Verified: this is " + body.user_id + "." : "Not verified: this does not look like " + body.user_id + ".";
    // A client key learns pass or fail only: the score is shown to secret keys (and the open
    // development service).
    if (typeof body.similarity !== "number") return;
    sim.hidden = false;
    $("similarity-bar").value = body.similarity;
    $("similarity-text").textContent = body.similarity.toFixed(3) + " (threshold " + body.threshold.toFixed(3) + ")";
    $("threshold-mark").style.left = ((body.threshold + 1) / 2 * 100) + "%";
  }
  for (const [stage, ms] of Object.entries(body.timings_ms || {})) {
    const dt = document.createElement("dt");
    dt.textContent = stage;
    const dd = document.createElement("dd");
    dd.textContent = ms.toFixed(1) + " ms";
    timings.append(dt, dd);
  }
}

async function send(kind) {
  const userId = $("user-id").value.trim();
  if (!userId) return render(kind, 400, { error: { code: "missing_field", message: "enter a user id" } });
  if (!photo) return render(kind, 400, { error: { code: "missing_field", message: "choose or take a photo" } });
  const form = new FormData();
  form.append("user_id", userId);
  form.append("image", photo, "photo.jpg");
  const token = $("enrollment-token").value.trim();
  if (kind === "register" && token) form.append("enrollment_token", token);
  const headers = {};
  if (keyInput.value) headers["Authorization"] = "Bearer " + keyInput.value;
  for (const b of document.querySelectorAll(".actions button")) b.disabled = true;
  $("outcome").dataset.outcome = "pending";
  try {
    const res = await fetch("/api/" + kind, { method: "POST", body: form, headers });
    const body = await res.json().catch(() => ({ error: { code: "bad_response", message: "the service did not answer JSON" } }));
    render(kind, res.status, body);
  } catch (err) {
    render(kind, 0, { error: { code: "network", message: String(err) } });
  } finally {
    for (const b of document.querySelectorAll(".actions button")) b.disabled = false;
  }
}

$("register").addEventListener("click", () => send("register"));
$("verify").addEventListener("click", () => send("verify"));

// The guided challenge: fetch a challenge, record one continuous capture that follows its plan
// (the SDK's recordCapture: prompts in the user's own terms, "your left", at their times, and the
// screen's colours around the video), and verify it. A standalone challenge always carries the
// server's strongest liveness: only a backend's session may ask for `movement` (reduced motion).

function authHeaders() {
  return keyInput.value ? { Authorization: "Bearer " + keyInput.value } : {};
}

async function runChallenge() {
  const userId = $("user-id").value.trim();
  if (!userId) return render("verify", 400, { error: { code: "missing_field", message: "enter a user id" } });
  const stepText = $("challenge-step");
  const button = $("challenge-start");
  button.disabled = true;
  $("outcome").dataset.outcome = "pending";
  let camera = null;
  try {
    const res = await fetch("/api/challenges", {
      method: "POST",
      headers: { ...authHeaders(), "Content-Type": "application/json" },
      body: JSON.stringify({ user_id: userId }),
    });
    const challenge = await res.json();
    if (!res.ok) return render("verify", res.status, challenge);
    const video = $("challenge-video");
    video.hidden = false;
    camera = await openCamera(video);
    const capture = await recordCapture(video, challenge.capture, {
      onPrompt: (step) => {
        stepText.textContent = DEFAULT_MESSAGES[step];
        stepText.dataset.step = step;
      },
      onColour: (css) => { document.body.style.background = css || ""; },
    });
    // Recording mode: the capture saved on this device, labelled, for `faceauth liveness-eval`
    // (file it under DIR/<label>/); it is verified as usual too.
    const label = $("record-label").value;
    if (label) {
      saveRecording(await recordingFile(capture, challenge.capture, label), `${label}-${Date.now()}.json`);
    }
    stepText.textContent = "Checking…";
    const form = new FormData();
    form.append("user_id", userId);
    form.append("challenge_id", challenge.challenge_id);
    capture.frames.forEach((blob) => form.append("capture", blob, "frame.jpg"));
    form.append("capture_ms", JSON.stringify(capture.times));
    form.append("capture_light", capture.light);
    const verified = await fetch("/api/verify", { method: "POST", body: form, headers: authHeaders() });
    render("verify", verified.status, await verified.json().catch(() => ({ error: { code: "bad_response", message: "no JSON" } })));
    stepText.textContent = "";
  } catch (err) {
    render("verify", 0, { error: { code: err.code || "camera", message: err.sentence || String(err) } });
  } finally {
    closeCamera(camera);
    $("challenge-video").hidden = true;
    button.disabled = false;
  }
}

$("challenge-start").addEventListener("click", runChallenge);

// Face + passkey: the SDK registers a passkey on this device (a secret key needs no enrol session),
// then a session that needs both (created here with the page's key, as a backend would) verifies
// the chosen photo, signed by the device. The result's token says what was proven (`amr`).
function sdkClient() {
  return new FaceAuthClient({ apiKey: keyInput.value });
}

function failed(kind, err) {
  render(kind, err.status || 0, { error: { code: err.code || "unknown", message: err.sentence || String(err) } });
}

$("passkey-register").addEventListener("click", async () => {
  const userId = $("user-id").value.trim();
  if (!userId) return render("register", 400, { error: { code: "missing_field", message: "enter a user id" } });
  try {
    const registered = await sdkClient().registerPasskey({ userId });
    $("result").hidden = false;
    $("raw").textContent = JSON.stringify(registered, null, 2);
    $("outcome").dataset.outcome = "passkey-registered";
    $("outcome").textContent = DEFAULT_MESSAGES.passkey_registered;
  } catch (err) {
    failed("register", err);
  }
});

$("passkey-verify").addEventListener("click", async () => {
  const userId = $("user-id").value.trim();
  if (!userId) return render("verify", 400, { error: { code: "missing_field", message: "enter a user id" } });
  if (!photo) return render("verify", 400, { error: { code: "missing_field", message: "choose or take a photo" } });
  const res = await fetch("/api/sessions", {
    method: "POST",
    headers: { ...authHeaders(), "Content-Type": "application/json" },
    body: JSON.stringify({ user_id: userId, purpose: "verify", factors: ["face", "passkey"] }),
  });
  const session = await res.json();
  if (!res.ok) return render("verify", res.status, session);
  try {
    const body = await sdkClient().verify({ userId, photo, sessionToken: session.session_token, passkey: session.passkey });
    render("verify", 200, body);
    if (body.token) {
      const claims = JSON.parse(atob(body.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      $("outcome").textContent += " Proven: " + claims.amr.join(", ") + ".";
      $("outcome").dataset.amr = claims.amr.join(" ");
    }
  } catch (err) {
    failed("verify", err);
  }
});
