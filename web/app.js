// The faceauth demo: one photo (file or camera still) sent to /api/register or /api/verify.
"use strict";

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
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
    const video = $("video");
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    $("camera-capture").hidden = false;
    $("camera-note").textContent = "";
  } catch (err) {
    $("camera-note").textContent = "The camera could not be opened (" + err.name + "): upload a photo instead.";
  }
});

$("camera-capture").addEventListener("click", () => {
  const video = $("video");
  const canvas = $("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => blob && showPreview(blob), "image/jpeg", 0.92);
  stream.getTracks().forEach((t) => t.stop());
  video.hidden = true;
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
