// faceauth web SDK: the camera flow of a face sign-in, as one ES module with no dependencies and
// no build step. Served by the service at /sdk/faceauth.js; also an npm package (web/sdk).
//
// Two layers:
// - building blocks: openCamera, captureFrame, recordCapture (one continuous capture that follows
//   the server's plan: prompts at their times, the screen's colours), loadFaceGuide (in-browser
//   face landmarks, MediaPipe Face Mesh served by the service: where the face is, how big, lit and
//   turned), FaceAuthClient (enroll / verify over the API with a session token or an enrolment
//   token), describeError / describeTries (code -> sentence);
// - FaceAuthWidget: a ready UI (camera, a face oval that follows the face, a capture that starts
//   when the face is ready, prompts announced to screen readers, Cancel and Escape, the outcome
//   as a sentence with the tries left) built from them.
// It never needs the secret key and never shows scores: what a client key learns is pass or fail.

/** Sentences the end user sees; replace any of them (localisation) through `messages`. */
export const DEFAULT_MESSAGES = Object.freeze({
  ready: "Position your face in the oval.",
  opening_camera: "Opening the camera…",
  no_face_yet: "Put your face in the oval.",
  centre_face: "Move so that your face is in the middle of the oval.",
  too_close: "Move a little further from the camera.",
  reached: "Good. Now back to the centre.",
  cancel: "Cancel",
  cancelled: "Cancelled. Nothing was sent.",
  tries_left: "{n} tries left.",
  try_left: "1 try left.",
  no_tries_left: "No tries left for now: wait a few minutes before trying again.",
  front: "Look straight at the camera.",
  turn_left: "Turn your head to your left.",
  turn_right: "Turn your head to your right.",
  look_up: "Tilt your head up.",
  look_down: "Tilt your head down.",
  hold_still: "Hold still…",
  checking: "Checking…",
  more_light: "It is too dark here: find more light, facing you.",
  enrolled: "You are enrolled. You can now sign in with your face.",
  verified: "Verified. Signing you in…",
  recorded: "Recorded.",
  not_verified: "That did not match this account. Please try again.",
  no_face: "We could not see a face. Center your face in the oval and try again.",
  multiple_faces: "More than one face is in view. Make sure only you are in the picture.",
  face_too_small: "Move closer to the camera.",
  face_too_dark: "It is too dark. Find more light, facing you, and try again.",
  face_overexposed: "There is too much light on your face. Move away from direct light and try again.",
  face_blurry: "The picture is blurry. Hold still and try again.",
  face_not_frontal: "Look straight at the camera and try again.",
  pose_mismatch: "Start facing the camera. When asked, turn your head a little further, hold a moment, and come back.",
  identity_changed: "The same person must stay in front of the camera. Please try again.",
  capture_discontinuous: "We need the live camera, not a picture or a recording. Keep your face in view and follow each prompt.",
  capture_incomplete: "Keep this page open and your face in view until the end, then try again.",
  light_not_followed: "We could not see the screen's colours on your face. Turn the screen brightness up, hold the device closer, and avoid bright light behind you.",
  light_not_reflected: "We need the live camera, not a recording. Please try again with your camera.",
  capture_flat: "The camera seemed to see a photo or a screen, not you. Look at the camera yourself and turn your head as asked.",
  capture_too_large: "This app sent more than the sign-in asked for. Update the app and try again.",
  light_required: "This sign-in needs the colour check, which cannot be skipped. If flashing colours are a problem for you, ask for another way to sign in.",
  colours: "The screen will change colour for a few seconds. Keep looking at it.",
  liveness_failed: "We could not confirm a live person. Use your camera directly, not a photo or a screen.",
  replayed_image: "Please take a new picture with your camera.",
  face_mismatch: "This face does not match the one already enrolled for this account.",
  verification_disabled: "Face sign-in is disabled for this account after too many failures. Contact support.",
  too_many_attempts: "Too many attempts. Try again later.",
  rate_limited: "Too many attempts. Try again later.",
  session_expired: "This sign-in attempt has expired. Please start again.",
  passkey_confirm: "Now confirm with your passkey on this device.",
  passkey_registered: "Your passkey is registered. Sign-ins can now ask for it.",
  passkey_unavailable: "This browser or device cannot use passkeys. Use a device with a screen lock or a security key, or ask for another way to sign in.",
  passkey_cancelled: "The passkey step was cancelled or took too long. Please try again.",
  passkey_not_allowed: "Passkeys cannot be used on this page. Sign in from the site's own page.",
  passkey_exists: "This device already holds a passkey for your account.",
  passkey_required: "This sign-in needs your passkey as well as your face. Please try again.",
  passkey_not_recognised: "This passkey is not registered for this account. Use the device you registered.",
  passkey_user_not_verified: "Your device did not confirm it is you. Unlock it with your PIN, fingerprint or face and try again.",
  passkey_counter_regressed: "This passkey reported an old state and cannot be used. Contact support.",
  passkey_invalid: "Your passkey's answer could not be checked. Please try again.",
  passkey_registration_refused: "The passkey could not be registered. Use a device that can verify you with a PIN, fingerprint or face.",
  no_passkey: "No passkey is registered for this account yet.",
  consent_required: "Your consent is needed before your face can be enrolled.",
  camera_denied: "Camera access was refused. Allow the camera for this site in your browser settings, then try again.",
  camera_unavailable: "No camera could be opened. Check that one is connected and not used by another app.",
  camera_insecure: "The camera needs a secure page (https).",
  unavailable: "The service is busy. Please try again in a moment.",
  invalid_image: "The picture could not be read. Please take a new picture with your camera.",
  too_many_references: "This account already holds as many face pictures as it may. Contact support to start over.",
  references_outdated: "Your face needs to be enrolled again before you can sign in with it. Please enrol a new picture.",
  app_misconfigured: "This sign-in is not set up correctly. Please contact the site's support.",
  network: "We could not reach the server. Check your connection and try again.",
  unknown: "Something went wrong. Please try again.",
});

// Codes that share a sentence: the session family, and every "try again shortly" server state.
const SAME_AS = {
  invalid_session: "session_expired", session_required: "session_expired", session_not_found: "session_expired",
  invalid_enrollment_token: "session_expired", enrollment_required: "session_expired",
  challenge_expired: "session_expired", challenge_used: "session_expired", challenge_not_found: "session_expired",
  passkey_challenge_mismatch: "session_expired", passkey_registration_not_found: "session_expired",
  passkey_not_asked: "session_expired", passkey_origin_mismatch: "passkey_not_allowed",
  invalid_passkey: "passkey_invalid", passkeys_not_configured: "passkey_unavailable",
  storage_unavailable: "unavailable", state_unavailable: "unavailable", audit_unavailable: "unavailable",
  overloaded: "unavailable", timeout: "unavailable", internal_error: "unavailable",
  image_too_large: "invalid_image",
  // The app's own mistakes (a wrong key, a missing field, a liveness the server does not run): the
  // person cannot fix them, the site's support can.
  invalid_user_id: "app_misconfigured", missing_field: "app_misconfigured", duplicate_field: "app_misconfigured",
  invalid_request: "app_misconfigured", unauthorized: "app_misconfigured", forbidden: "app_misconfigured",
  not_found: "app_misconfigured", method_not_allowed: "app_misconfigured", challenge_required: "app_misconfigured",
  challenges_disabled: "app_misconfigured", unsupported_media_type: "app_misconfigured",
  payload_too_large: "app_misconfigured",
};

/** The sentence for an error code (a service code, or one of the SDK's own: camera_*, network). */
export function describeError(code, messages = {}) {
  const all = { ...DEFAULT_MESSAGES, ...messages };
  return all[code] || all[SAME_AS[code]] || all.unknown;
}

/** "2 tries left." for a refusal that counted (`attempts_left` of the answer); "" when not told. */
export function describeTries(attemptsLeft, messages = {}) {
  if (attemptsLeft === undefined || attemptsLeft === null) return "";
  const all = { ...DEFAULT_MESSAGES, ...messages };
  if (attemptsLeft === 0) return all.no_tries_left;
  return attemptsLeft === 1 ? all.try_left : all.tries_left.replace("{n}", String(attemptsLeft));
}

/**
 * An error with a stable `code`, the HTTP `status` (0 when none), the user's `sentence` and, when
 * the refusal counted as a failed attempt, `attemptsLeft` (failures still allowed before the lockout).
 */
export class FaceAuthError extends Error {
  constructor(code, status = 0, sentence = describeError(code), detail = "", attemptsLeft = undefined) {
    super(detail || code);
    this.name = "FaceAuthError";
    this.code = code;
    this.status = status;
    this.sentence = sentence;
    this.attemptsLeft = attemptsLeft;
  }
}

/** Opens the front camera into `video` (phones: the selfie camera, 720p preferred). */
export async function openCamera(video) {
  if (!globalThis.navigator?.mediaDevices?.getUserMedia) throw new FaceAuthError("camera_insecure");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (err) {
    const denied = err && (err.name === "NotAllowedError" || err.name === "SecurityError");
    throw new FaceAuthError(denied ? "camera_denied" : "camera_unavailable", 0, undefined, String(err));
  }
  video.muted = true;
  video.playsInline = true; // iOS: play inline, not full screen
  video.srcObject = stream;
  await video.play();
  return stream;
}

/** Stops every track of a stream (the camera light goes off). */
export function closeCamera(stream) {
  stream?.getTracks().forEach((t) => t.stop());
}

/** The current frame as a JPEG Blob, and its mean brightness (0-255) to hint "more light". */
export async function captureFrame(video, quality = 0.92) {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(video, 0, 0);
  const sample = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, n = 0;
  for (let i = 0; i < sample.length; i += 4 * 97) {
    sum += 0.299 * sample[i] + 0.587 * sample[i + 1] + 0.114 * sample[i + 2];
    n += 1;
  }
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  return { blob, brightness: n ? sum / n : 0 };
}

/**
 * Whether the person asked the system for less motion. The SDK does not act on it: tell your
 * backend, which may then create the session with `liveness: "movement"` (no flashing colours).
 * The plan a session carries decides what is shown; a client cannot lower it.
 */
export function prefersReducedMotion() {
  return Boolean(globalThis.matchMedia?.("(prefers-reduced-motion: reduce)").matches);
}

/**
 * One continuous capture that follows a challenge's `plan` (the `capture` object of a session or
 * challenge): frames at `plan.fps` for `plan.duration_ms`, each stamped with its time since the
 * start (the monotonic clock), each prompt shown at its `at_ms` (`onPrompt(step)`; "front" first),
 * each colour the plan carries painted at its `at_ms` (`onColour(css)`, `null` at the end).
 * Frames are at most `maxSide` px on their longer side (JPEG): a 5 s capture at 15 fps is about
 * 1–2 MB. Resolves to `{ frames: Blob[], times: number[], light: "shown" | "declined" }`; an
 * aborted `signal` stops it with code `cancelled`.
 */
export async function recordCapture(video, plan, { onPrompt = () => {}, onColour = () => {}, maxSide = 480, quality = 0.85, signal } = {}) {
  // Never larger than the plan allows (the server refuses larger frames unread).
  const side = Math.min(maxSide, plan.max_side || maxSide);
  const scale = Math.min(1, side / Math.max(video.videoWidth, video.videoHeight));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  // The backend chose, in the session: a plan with colours is answered with them.
  const showsLight = (plan.light || []).length > 0;
  const prompts = [{ step: "front", at_ms: 0 }, ...(plan.prompts || [])];
  const flashes = showsLight ? plan.light : [];
  const interval = 1000 / (plan.fps || 15);
  const frames = [], times = [];
  // A camera slower than the asked rate (15 fps in low light) would hand the same picture twice,
  // which the service rightly refuses as a repeated frame: where the browser says when a new
  // frame arrived (requestVideoFrameCallback), a tick without one is skipped.
  let presented = -1, taken = -2;
  const watch = video.requestVideoFrameCallback?.bind(video);
  if (watch) {
    const onFrame = (_, meta) => {
      presented = meta.presentedFrames;
      if (!done) watch(onFrame);
    };
    watch(onFrame);
  }
  let done = false, lastPrint = null;
  const started = performance.now();
  let prompt = -1, flash = -1;
  for (let k = 0; ; k++) {
    const due = started + k * interval;
    await sleep(due - performance.now());
    const t = performance.now() - started;
    if (signal?.aborted) {
      done = true;
      onColour(null);
      throw new FaceAuthError("cancelled");
    }
    if (t > plan.duration_ms) break;
    // The prompt and colour of this instant go up before the frame is taken.
    while (prompt + 1 < prompts.length && prompts[prompt + 1].at_ms <= t) onPrompt(prompts[++prompt].step);
    while (flash + 1 < flashes.length && flashes[flash + 1].at_ms <= t) onColour(flashes[++flash].css);
    if (watch && presented === taken) continue;
    taken = presented;
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    // And where it does not (or repeats a picture anyway), the same pixels as the last frame are
    // the same frame: a real sensor never gives two identical pictures.
    const patch = ctx.getImageData(canvas.width / 2 - 16, canvas.height / 2 - 16, 32, 32).data;
    let print = 0;
    for (let i = 0; i < patch.length; i += 3) print = (Math.imul(print, 31) + patch[i]) | 0;
    if (print === lastPrint) continue;
    lastPrint = print;
    times.push(Math.round(t * 10) / 10);
    // Encoded in the background: time spent encoding never delays the next frame.
    frames.push(new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality)));
  }
  done = true;
  onColour(null);
  return { frames: await Promise.all(frames), times, light: showsLight ? "shown" : "declined" };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** The recording format `faceauth liveness-eval` reads. */
export const RECORDING_FORMAT = "faceauth-capture/1";

/**
 * A capture (from recordCapture) as a file for `faceauth liveness-eval`, which measures the
 * deployed liveness checks on an operator's own cameras: the `plan` it answered (the session's or
 * challenge's `capture`), its frames' times, its frames (JPEG, as data URLs) and the `label` the
 * operator gives it, `bona_fide` or an attack kind (`print`, `screen`, `replay`, `mask`, …).
 * Resolves to a JSON Blob; nothing is sent anywhere (`saveRecording` offers it as a download, to
 * be filed under DIR/<label>/).
 */
export async function recordingFile(capture, plan, label, { note = "" } = {}) {
  const dataUrl = (blob) => new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
  const recording = {
    format: RECORDING_FORMAT, label, plan, times: capture.times, light: capture.light,
    frames: await Promise.all(capture.frames.map(dataUrl)),
    recorded: { at: new Date().toISOString(), user_agent: globalThis.navigator?.userAgent || "", note },
  };
  return new Blob([JSON.stringify(recording)], { type: "application/json" });
}

/** Offers `blob` as a download named `name` (the browser's own save; nothing leaves the device). */
export function saveRecording(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

// --- The face guide ------------------------------------------------------------------------------
// In-browser face landmarks (MediaPipe Face Mesh, npm @mediapipe/face_mesh, Apache-2.0), served by
// the faceauth service itself at /sdk/face-mesh/<version>/ (no CDN; the service checks every file's
// sha256, and the browser checks the loader's integrity below). About 10 MB on first use, cached
// for a year after; where it cannot run (not installed, no WebGL) the widget runs unguided.

/** The release the service serves, and its loader's Subresource Integrity. */
export const FACE_MESH = Object.freeze({
  version: "0.4.1633559619",
  integrity: "sha384-nKiz5QrpRlMQLw5nrZcprT7N9vmmAcIgV8TuGuep4x91V4JIPsXa+D44Wxj0guoa",
});

/**
 * When a face is ready for a capture, as fractions of the frame, a mean brightness (0-255) and
 * degrees: near the middle; near enough (15 % of the width is about 72 px in a 480 px frame, eyes
 * about 30 px apart: half as much again as the service's MIN_EYE_DISTANCE_PX of 20) but whole in
 * view; lit; and level (the capture must start level; the service checks that too).
 */
export const GUIDE_LIMITS = Object.freeze({
  // The oval's own centre: faces sit a little above the middle of a webcam's frame.
  centreX: 0.5, centreY: 0.42, maxOffsetX: 0.12, maxOffsetY: 0.18, minWidth: 0.15, maxWidth: 0.7,
    // Pitch is loose: where the nose sits between forehead and chin differs between people by
  // 15° or more (a frontal portrait read -20°), so only a face looking far up or down waits.
  minBrightness: 60, maxBrightness: 230, maxYaw: 12, maxPitch: 30,
});

/** The angles the service asks of a move by default (CHALLENGE_MIN_YAW, CHALLENGE_MIN_PITCH). */
export const MOVE_ANGLES = Object.freeze({ yaw: 18, pitch: 15 });

const guides = new Map();

/** The face guide from the service at `baseUrl` (loaded once per page), or null where it cannot run. */
export function loadFaceGuide({ baseUrl = "" } = {}) {
  const base = `${baseUrl.replace(/\/$/, "")}/sdk/face-mesh/${FACE_MESH.version}/`;
  if (!guides.has(base)) guides.set(base, openGuide(base).catch(() => null));
  return guides.get(base);
}

async function openGuide(base) {
  if (!globalThis.FaceMesh) {
    await new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = base + "face_mesh.js";
      script.integrity = FACE_MESH.integrity;
      script.crossOrigin = "anonymous";
      script.onload = resolve;
      script.onerror = () => reject(new Error("the face guide is not served here"));
      document.head.append(script);
    });
  }
  const mesh = new globalThis.FaceMesh({ locateFile: (file) => base + file });
  // Two faces at most: enough to say "only you in the picture". Not mirrored: the angles are the
  // service's, measured on the frames it receives.
  mesh.setOptions({ maxNumFaces: 2, refineLandmarks: false, minDetectionConfidence: 0.5, minTrackingConfidence: 0.5, selfieMode: false });
  await mesh.initialize();
  return new FaceGuide(mesh);
}

/** Looks at camera frames: where the face is, how big, how lit, how turned. */
export class FaceGuide {
  #mesh;
  #faces = [];
  #canvas = null;

  constructor(mesh) {
    this.#mesh = mesh;
    mesh.onResults((results) => { this.#faces = results.multiFaceLandmarks || []; });
  }

  /**
   * One look at the video's current frame: `{ faces, box, yaw, pitch, brightness, ms }` (box in
   * fractions of the frame as the camera sees it, not mirrored; `ms`: what the look cost).
   */
  async look(video) {
    const started = performance.now();
    this.#faces = [];
    await this.#mesh.send({ image: video });
    const ms = performance.now() - started;
    const faces = this.#faces;
    if (!faces.length) return { faces: 0, ms };
    const face = measureFace(faces[0]);
    return { faces: faces.length, ...face, brightness: this.#brightness(video, face.box), ms };
  }

  // The face's own brightness, not the frame's: a bright window behind a dark face is dark.
  #brightness(video, box) {
    this.#canvas ??= Object.assign(document.createElement("canvas"), { width: 24, height: 24 });
    const ctx = this.#canvas.getContext("2d", { willReadFrequently: true });
    const [w, h] = [video.videoWidth, video.videoHeight];
    ctx.drawImage(video, box.x * w, box.y * h, Math.max(1, box.w * w), Math.max(1, box.h * h), 0, 0, 24, 24);
    const data = ctx.getImageData(0, 0, 24, 24).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    return sum / (data.length / 4);
  }
}

/**
 * The box and angles of one face from its 468 landmarks (`x`, `y`: fractions of the frame). Yaw
 * and pitch in degrees on the service's axes (yaw positive: turned to the subject's own left;
 * pitch positive: up), from where the nose tip sits between the outer eye corners (33, 263) and
 * between forehead and chin (10, 152): fitted on 34 frames of the recorded head turns against the
 * service's own pose, within about 2° (residual). That fit is one person's: the pitch's zero
 * differs between faces, so pitch is for changes within one capture (moveReached), not a level.
 */
export function measureFace(points) {
  let [x0, y0, x1, y1] = [1, 1, 0, 0];
  for (const { x, y } of points) {
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
  }
  const across = (n, a, b) => (2 * points[n].x - points[a].x - points[b].x) / (points[b].x - points[a].x);
  const down = (n, a, b) => (2 * points[n].y - points[a].y - points[b].y) / (points[b].y - points[a].y);
  return { box: { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }, yaw: 39 * across(1, 33, 263), pitch: 12 - 164 * down(1, 10, 152) };
}

/** What keeps a look from starting the capture, as a message key; null when the face is ready. */
export function judgeLook(look, limits = GUIDE_LIMITS) {
  if (!look.faces) return "no_face_yet";
  if (look.faces > 1) return "multiple_faces";
  const { box } = look;
  if (box.w < limits.minWidth) return "face_too_small";
  if (box.w > limits.maxWidth) return "too_close";
  const [dx, dy] = [box.x + box.w / 2 - limits.centreX, box.y + box.h / 2 - limits.centreY];
  if (Math.abs(dx) > limits.maxOffsetX || Math.abs(dy) > limits.maxOffsetY) return "centre_face";
  if (look.brightness < limits.minBrightness) return "more_light";
  if (look.brightness > limits.maxBrightness) return "face_overexposed";
  if (Math.abs(look.yaw) > limits.maxYaw || Math.abs(look.pitch) > limits.maxPitch) return "front";
  return null;
}

/** Whether `look` has made the prompted move from where the capture started (`start`, level). */
export function moveReached(step, look, start, angles = MOVE_ANGLES) {
  if (!look.faces || !start?.faces) return false;
  const [dyaw, dpitch] = [look.yaw - start.yaw, look.pitch - start.pitch];
  switch (step) {
    case "turn_left": return dyaw >= angles.yaw;
    case "turn_right": return dyaw <= -angles.yaw;
    case "look_up": return dpitch >= angles.pitch;
    case "look_down": return dpitch <= -angles.pitch;
    default: return false;
  }
}

// Passkeys (WebAuthn). The options arrive as JSON (base64url where WebAuthn has bytes); the answer
// goes back the same way.
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64url = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = (data) => crypto.subtle.digest("SHA-256", data);

// JSON nulls are "absent" to WebAuthn, and some browsers refuse a null where a list is expected.
function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
  }
  return value;
}

function passkeyError(err) {
  if (err instanceof FaceAuthError) return err;
  const code = {
    NotAllowedError: "passkey_cancelled", AbortError: "passkey_cancelled", SecurityError: "passkey_not_allowed",
    NotSupportedError: "passkey_unavailable", InvalidStateError: "passkey_exists",
  }[err?.name] || "passkey_unavailable";
  return new FaceAuthError(code, 0, describeError(code), String(err));
}

function requirePasskeys() {
  if (typeof window === "undefined" || !window.PublicKeyCredential || !navigator.credentials) {
    throw new FaceAuthError("passkey_unavailable");
  }
}

/**
 * The challenge a face + passkey attempt signs: SHA-256 over "faceauth passkey v2\n", the hex
 * SHA-256 of the session token, the number of images, the hex SHA-256 of the `capture_ms` field
 * exactly as sent and the `capture_light` sent ("-" and "-" for a photo), and the hex SHA-256 of
 * each uploaded image in order, each line ended by "\n" (docs/passkeys.md). The server derives the
 * same from what it receives, so nothing that shapes the verdict can change after the device signed.
 */
export async function passkeyChallenge(sessionToken, images, { captureMs = null, captureLight = null } = {}) {
  const utf8 = (text) => new TextEncoder().encode(text);
  const times = captureMs === null ? "-" : hex(await sha256(utf8(captureMs)));
  const light = captureMs === null ? "-" : (captureLight || "shown");
  let text = "faceauth passkey v2\n" + hex(await sha256(utf8(sessionToken))) + "\n";
  text += "images " + images.length + "\ncapture_ms " + times + "\ncapture_light " + light + "\n";
  for (const image of images) text += hex(await sha256(await image.arrayBuffer())) + "\n";
  return new Uint8Array(await sha256(new TextEncoder().encode(text)));
}

/** Signs `challenge` with one of the credentials `options` (a session's `passkey`) allows. */
export async function signWithPasskey(options, challenge) {
  requirePasskeys();
  const publicKey = { ...withoutNulls(options), challenge };
  publicKey.allowCredentials = (publicKey.allowCredentials || []).map((c) => ({ ...c, id: unb64url(c.id) }));
  let credential;
  try {
    credential = await navigator.credentials.get({ publicKey });
  } catch (err) {
    throw passkeyError(err);
  }
  const r = credential.response;
  return JSON.stringify({
    id: credential.id, rawId: b64url(credential.rawId), type: credential.type,
    response: {
      authenticatorData: b64url(r.authenticatorData), clientDataJSON: b64url(r.clientDataJSON),
      signature: b64url(r.signature), ...(r.userHandle ? { userHandle: b64url(r.userHandle) } : {}),
    },
    clientExtensionResults: credential.getClientExtensionResults?.() || {},
  });
}

/** Creates a credential for `options` (the `public_key` of POST /api/passkeys/options), as JSON. */
export async function createPasskey(options) {
  requirePasskeys();
  const publicKey = withoutNulls(options);
  publicKey.challenge = unb64url(publicKey.challenge);
  publicKey.user = { ...publicKey.user, id: unb64url(publicKey.user.id) };
  publicKey.excludeCredentials = (publicKey.excludeCredentials || []).map((c) => ({ ...c, id: unb64url(c.id) }));
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey });
  } catch (err) {
    throw passkeyError(err);
  }
  const r = credential.response;
  return {
    id: credential.id, rawId: b64url(credential.rawId), type: credential.type,
    response: {
      clientDataJSON: b64url(r.clientDataJSON), attestationObject: b64url(r.attestationObject),
      transports: r.getTransports?.() || [],
    },
    clientExtensionResults: credential.getClientExtensionResults?.() || {},
  };
}

/** The API, from the browser: a publishable client key at most, and a token per attempt. */
export class FaceAuthClient {
  /** `baseUrl`: the service's origin ("" for the page's own); `apiKey`: a client key, if required. */
  constructor({ baseUrl = "", apiKey = "" } = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.apiKey = apiKey;
  }

  async #post(path, form) {
    const headers = this.apiKey ? { Authorization: "Bearer " + this.apiKey } : {};
    if (!(form instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      form = JSON.stringify(form);
    }
    let response;
    try {
      response = await fetch(this.baseUrl + path, { method: "POST", body: form, headers });
    } catch (err) {
      throw new FaceAuthError("network", 0, undefined, String(err));
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const code = body?.error?.code || "unknown";
      throw new FaceAuthError(code, response.status, describeError(code), body?.error?.message, body?.error?.attempts_left);
    }
    return body;
  }

  /** Enrols `photo` for `userId` with a `sessionToken` (purpose enroll) or an `enrollmentToken`. */
  enroll({ userId, photo, sessionToken, enrollmentToken, consent }) {
    const form = new FormData();
    form.append("user_id", userId);
    form.append("image", photo, "face.jpg");
    if (sessionToken) form.append("session_token", sessionToken);
    else if (enrollmentToken) form.append("enrollment_token", enrollmentToken);
    if (consent) form.append("consent", consent);
    return this.#post("/api/register", form);
  }

  /**
   * Verifies one `photo`, or a `capture` (from recordCapture: the answer to a challenge), against
   * `userId` within a session. Resolves to `{ verified, token, session_id }`; the token goes to
   * your backend.
   */
  async verify({ userId, photo, capture, sessionToken, challengeId, passkey, onPasskey = () => {} }) {
    const form = new FormData();
    form.append("user_id", userId);
    const images = capture ? capture.frames : [photo];
    // The exact text sent is what the passkey signs of the times.
    const captureMs = capture ? JSON.stringify(capture.times) : null;
    if (capture) {
      capture.frames.forEach((blob) => form.append("capture", blob, "frame.jpg"));
      form.append("capture_ms", captureMs);
      form.append("capture_light", capture.light);
    } else {
      form.append("image", photo, "face.jpg");
    }
    if (sessionToken) form.append("session_token", sessionToken);
    if (challengeId) form.append("challenge_id", challengeId);
    // A face + passkey session (its `passkey` options): the device signs this session and exactly
    // these images, so neither can be swapped after it signed.
    if (passkey) {
      onPasskey();
      form.append("passkey", await signWithPasskey(passkey, await passkeyChallenge(sessionToken, images, { captureMs, captureLight: capture?.light })));
    }
    return this.#post("/api/verify", form);
  }

  /**
   * Registers a passkey on this device for `userId`, with an enrol session's `sessionToken` (a
   * backend with a secret key needs none). Resolves to the registered credential's description.
   */
  async registerPasskey({ userId, sessionToken }) {
    const start = { user_id: userId, ...(sessionToken ? { session_token: sessionToken } : {}) };
    const { registration_id, public_key } = await this.#post("/api/passkeys/options", start);
    const credential = await createPasskey(public_key);
    return this.#post("/api/passkeys", { ...start, registration_id, credential });
  }
}

/**
 * A ready capture UI inside `container`: the camera preview with a face oval that follows the face
 * (with the face guide), one prompt line (aria-live, so screen readers announce each instruction
 * and the outcome), a Cancel button (and Escape). `enroll(...)` and `verify(...)` open the camera,
 * wait until the face is centred, near enough, lit and level, guide the user through the capture,
 * send, close the camera, and resolve to the service's answer or reject with a FaceAuthError whose
 * sentence (with the tries left, when the service says) is on screen.
 */
export class FaceAuthWidget {
  constructor(container, { baseUrl = "", apiKey = "", messages = {}, captureMs = 1500, guide = true, guideTimeoutMs = 30000 } = {}) {
    this.client = new FaceAuthClient({ baseUrl, apiKey });
    this.messages = { ...DEFAULT_MESSAGES, ...messages };
    this.captureMs = captureMs;
    this.baseUrl = baseUrl;
    this.guide = guide;
    this.guideTimeoutMs = guideTimeoutMs;
    const root = document.createElement("div");
    root.className = "faceauth";
    root.style.cssText = "position:relative;z-index:auto;max-width:480px;width:100%;font:16px/1.4 system-ui,sans-serif";
    this.video = document.createElement("video");
    this.video.setAttribute("aria-hidden", "true");
    // Mirrored like a mirror, which is what people expect of a selfie view; photos are not.
    this.video.style.cssText = "width:100%;border-radius:12px;background:#222;transform:scaleX(-1);display:block";
    const oval = document.createElement("div");
    oval.setAttribute("aria-hidden", "true");
    oval.style.cssText = "position:absolute;left:25%;top:8%;width:50%;height:70%;border:3px solid rgba(255,255,255,.85);" +
      "border-radius:50%;box-shadow:0 0 0 999px rgba(0,0,0,.35);pointer-events:none;transition:all .2s ease-out";
    const frame = document.createElement("div");
    frame.style.cssText = "position:relative;overflow:hidden;border-radius:12px";
    frame.append(this.video, oval);
    this.oval = oval;
    this.prompt = document.createElement("p");
    this.prompt.className = "faceauth-prompt";
    this.prompt.setAttribute("role", "status");
    this.prompt.setAttribute("aria-live", "polite");
    this.cancelButton = document.createElement("button");
    this.cancelButton.type = "button";
    this.cancelButton.className = "faceauth-cancel";
    this.cancelButton.textContent = this.messages.cancel;
    this.cancelButton.hidden = true;
    this.cancelButton.addEventListener("click", () => this.cancel());
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.cancel();
    });
    root.append(frame, this.prompt, this.cancelButton);
    container.append(root);
    this.root = root;
    this.say("ready");
  }

  /** Shows (and announces) a message by key, or a sentence as given; an unchanged one is not repeated. */
  say(keyOrSentence, state = "") {
    const text = this.messages[keyOrSentence] || keyOrSentence;
    if (this.prompt.textContent !== text) this.prompt.textContent = text;
    this.root.dataset.state = state;
  }

  /** Stops the flow in progress before anything is sent (the Cancel button, Escape). */
  cancel() {
    this.aborter?.abort();
  }

  async #withCamera(run) {
    this.say("opening_camera", "busy");
    this.aborter = new AbortController();
    let stream;
    try {
      const guide = this.guide ? loadFaceGuide({ baseUrl: this.baseUrl }) : Promise.resolve(null);
      stream = await openCamera(this.video);
      this.cancelButton.hidden = false;
      this.cancelButton.focus({ preventScroll: true });
      return await run(await guide, this.aborter.signal);
    } catch (err) {
      const error = err instanceof FaceAuthError ? err : new FaceAuthError("unknown", 0, undefined, String(err));
      const sentence = [describeError(error.code, this.messages), describeTries(error.attemptsLeft, this.messages)];
      this.say(sentence.filter(Boolean).join(" "), "error");
      this.root.dataset.code = error.code;
      throw error;
    } finally {
      closeCamera(stream);
      this.cancelButton.hidden = true;
      this.#onColour(null);
      this.aborter = null;
    }
  }

  // Nothing is sent once this passes: a cancel after it would be too late to mean "nothing sent".
  #checkpoint(signal) {
    if (signal.aborted) throw new FaceAuthError("cancelled");
  }

  /**
   * Until the face is ready (two looks in a row): the oval follows it and the prompt says what to
   * change. Resolves to the ready look, or null without a guide; rejects after `guideTimeoutMs`
   * with the last thing to change as its code (its sentence says what to do).
   */
  async #ready(guide, signal) {
    if (!guide) return null;
    const deadline = performance.now() + this.guideTimeoutMs;
    let steady = 0;
    for (;;) {
      this.#checkpoint(signal);
      const look = await guide.look(this.video);
      this.#follow(look);
      const problem = judgeLook(look);
      this.root.dataset.guide = problem || "ready";
      steady = problem ? 0 : steady + 1;
      if (steady >= 2) return look;
      this.say(problem || "hold_still", "busy");
      if (problem && performance.now() > deadline) throw new FaceAuthError(problem, 0, describeError(problem, this.messages));
      await sleep(60);
    }
  }

  // The oval around the face, on the mirrored preview.
  #follow(look) {
    if (look.faces !== 1) return;
    const { x, y, w, h } = look.box;
    const [ow, oh] = [w * 1.3, h * 1.35];
    const [cx, cy] = [1 - (x + w / 2), y + h / 2];
    const pct = (v) => (100 * v).toFixed(1) + "%";
    Object.assign(this.oval.style, { left: pct(cx - ow / 2), top: pct(cy - oh / 2), width: pct(ow), height: pct(oh) });
  }

  /** One still after `captureMs`, once the face is ready; halfway, a dark picture asks for more light. */
  async #still(guide, signal) {
    await this.#ready(guide, signal);
    this.say("hold_still", "busy");
    await sleep(this.captureMs / 2);
    if ((await captureFrame(this.video)).brightness < 50) this.say("more_light", "busy");
    await sleep(this.captureMs / 2);
    this.#checkpoint(signal);
    return (await captureFrame(this.video)).blob;
  }

  #onPrompt = (step) => {
    if (this.root.dataset.step !== step) {
      this.say(step, "busy");
      delete this.root.dataset.reached;
    }
    this.root.dataset.step = step;
  };

  // While recording, where a look costs less than half a frame (a phone's GPU): the oval keeps
  // following, and a prompt turns to "back to the centre" once its move is reached. The prompts'
  // times stay the server's (the light sequence and the response times are judged against them);
  // on a slower device (software WebGL) this is skipped rather than let looks delay the frames.
  async #track(guide, start, fps, stop) {
    if (!guide || !start || start.ms > 500 / fps) return;
    while (!stop.done) {
      const look = await guide.look(this.video);
      this.#follow(look);
      const step = this.root.dataset.step;
      if (step && !this.root.dataset.reached && moveReached(step, look, start)) {
        this.root.dataset.reached = step;
        this.say("reached", "busy");
      }
      await sleep(1000 / fps);
    }
  }

  #onColour = (css) => {
    // The screen around the oval takes the colour (the face reflects it); the widget stays on top.
    if (!css) {
      this.flash?.remove();
      this.flash = null;
      this.root.style.zIndex = "";
      this.oval.style.boxShadow = "0 0 0 999px rgba(0,0,0,.35)";
      return;
    }
    if (!this.flash) {
      this.flash = document.createElement("div");
      this.flash.setAttribute("aria-hidden", "true");
      this.flash.style.cssText = "position:fixed;inset:0;z-index:2147483646;pointer-events:none";
      document.body.append(this.flash);
      this.root.style.zIndex = "2147483647";
    }
    this.flash.style.background = css;
    this.oval.style.boxShadow = "0 0 0 999px " + css;
  };

  /** Enrols one photo: `{ userId, sessionToken }` or `{ userId, enrollmentToken }`, and `consent`. */
  enroll({ userId, sessionToken, enrollmentToken, consent }) {
    return this.#withCamera(async (guide, signal) => {
      const photo = await this.#still(guide, signal);
      this.cancelButton.hidden = true;
      this.say("checking", "busy");
      const result = await this.client.enroll({ userId, photo, sessionToken, enrollmentToken, consent });
      this.say("enrolled", "done");
      return result;
    });
  }

  /** Registers a passkey on this device (no camera): `{ userId, sessionToken }` (an enrol session). */
  async registerPasskey({ userId, sessionToken }) {
    this.say("passkey_confirm", "busy");
    try {
      const result = await this.client.registerPasskey({ userId, sessionToken });
      this.say("passkey_registered", "done");
      return result;
    } catch (err) {
      const error = err instanceof FaceAuthError ? err : passkeyError(err);
      this.say(describeError(error.code, this.messages), "error");
      this.root.dataset.code = error.code;
      throw error;
    }
  }

  /**
   * Verifies within a session. `passkey` (a face + passkey session's options, from your backend
   * with the token): after the capture the device is asked to sign it. `capture` (the session's plan, in challenge mode: hand it from your
   * backend with the token) is recorded as one continuous capture with its prompts and colours,
   * started once the face is ready; without it one still photo is sent. `record` (an operator's
   * recording mode, `{ label, note, send, onFile }`): the capture is also saved as a file for
   * `faceauth liveness-eval` (`recordingFile`; `onFile(blob, name)`, a download by default), and
   * with `send: false` not sent at all (resolves to `{ recorded: name }`). A "not verified" answer
   * rejects with code `not_verified` (and `attemptsLeft`).
   */
  verify({ userId, sessionToken, capture, challengeId, passkey, record }) {
    return this.#withCamera(async (guide, signal) => {
      let answer;
      if (capture) {
        const start = await this.#ready(guide, signal);
        if ((capture.light || []).length) this.say("colours", "busy");
        const stop = { done: false };
        const tracking = this.#track(guide, start, capture.fps || 15, stop);
        try {
          answer = {
            capture: await recordCapture(this.video, capture, {
              onPrompt: this.#onPrompt, onColour: this.#onColour, signal,
            }),
          };
        } finally {
          stop.done = true;
          await tracking;
        }
        // Recording mode (an operator building a set for `faceauth liveness-eval`): the capture
        // goes to a file on this device, and to the service only if `send` is not false.
        if (record) {
          const file = await recordingFile(answer.capture, capture, record.label, { note: record.note });
          const name = `${record.label}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
          (record.onFile || saveRecording)(file, name);
          if (record.send === false) {
            this.say("recorded", "done");
            return { recorded: name };
          }
        }
      } else {
        answer = { photo: await this.#still(guide, signal) };
      }
      this.#checkpoint(signal);
      this.cancelButton.hidden = true;
      this.say("checking", "busy");
      const onPasskey = () => this.say("passkey_confirm", "busy");
      const result = await this.client.verify({ userId, sessionToken, challengeId, passkey, onPasskey, ...answer });
      if (!result.verified) {
        throw new FaceAuthError("not_verified", 200, describeError("not_verified", this.messages), "", result.attempts_left);
      }
      this.say("verified", "done");
      return result;
    });
  }
}
