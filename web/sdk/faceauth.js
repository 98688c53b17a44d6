// faceauth web SDK: the camera flow of a face sign-in, as one ES module with no dependencies and
// no build step. Served by the service at /sdk/faceauth.js; also an npm package (web/sdk).
//
// Two layers:
// - building blocks: openCamera, captureFrame, captureSteps, FaceAuthClient (enroll / verify over
//   the API with a session token or an enrolment token), describeError (code -> sentence);
// - FaceAuthWidget: a ready UI (camera, face oval, prompts with a countdown announced to screen
//   readers, the outcome as a sentence) built from them.
// It never needs the secret key and never shows scores: what a client key learns is pass or fail.

/** Sentences the end user sees; replace any of them (localisation) through `messages`. */
export const DEFAULT_MESSAGES = Object.freeze({
  ready: "Position your face in the oval.",
  opening_camera: "Opening the camera…",
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
  not_verified: "That did not match this account. Please try again.",
  no_face: "We could not see a face. Center your face in the oval and try again.",
  multiple_faces: "More than one face is in view. Make sure only you are in the picture.",
  face_too_small: "Move closer to the camera.",
  face_too_dark: "It is too dark. Find more light, facing you, and try again.",
  face_overexposed: "There is too much light on your face. Move away from direct light and try again.",
  face_blurry: "The picture is blurry. Hold still and try again.",
  face_not_frontal: "Look straight at the camera and try again.",
  pose_mismatch: "Turn your head further when asked, and hold it until the next prompt.",
  identity_changed: "The same person must stay in front of the camera. Please try again.",
  frames_not_distinct: "We need a live camera, not a picture. Follow each prompt with your own head.",
  liveness_failed: "We could not confirm a live person. Use your camera directly, not a photo or a screen.",
  replayed_image: "Please take a new picture with your camera.",
  face_mismatch: "This face does not match the one already enrolled for this account.",
  verification_disabled: "Face sign-in is disabled for this account after too many failures. Contact support.",
  too_many_attempts: "Too many attempts. Try again later.",
  rate_limited: "Too many attempts. Try again later.",
  session_expired: "This sign-in attempt has expired. Please start again.",
  consent_required: "Your consent is needed before your face can be enrolled.",
  camera_denied: "Camera access was refused. Allow the camera for this site in your browser settings, then try again.",
  camera_unavailable: "No camera could be opened. Check that one is connected and not used by another app.",
  camera_insecure: "The camera needs a secure page (https).",
  unavailable: "The service is busy. Please try again in a moment.",
  network: "We could not reach the server. Check your connection and try again.",
  unknown: "Something went wrong. Please try again.",
});

// Codes that share a sentence: the session family, and every "try again shortly" server state.
const SAME_AS = {
  invalid_session: "session_expired", session_required: "session_expired", session_not_found: "session_expired",
  invalid_enrollment_token: "session_expired", enrollment_required: "session_expired",
  challenge_expired: "session_expired", challenge_used: "session_expired", challenge_not_found: "session_expired",
  storage_unavailable: "unavailable", state_unavailable: "unavailable", audit_unavailable: "unavailable",
  overloaded: "unavailable", timeout: "unavailable", internal_error: "unavailable",
};

/** The sentence for an error code (a service code, or one of the SDK's own: camera_*, network). */
export function describeError(code, messages = {}) {
  const all = { ...DEFAULT_MESSAGES, ...messages };
  return all[code] || all[SAME_AS[code]] || all.unknown;
}

/** An error with a stable `code`, the HTTP `status` (0 when none) and the user's `sentence`. */
export class FaceAuthError extends Error {
  constructor(code, status = 0, sentence = describeError(code), detail = "") {
    super(detail || code);
    this.name = "FaceAuthError";
    this.code = code;
    this.status = status;
    this.sentence = sentence;
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
 * Photos for a challenge: facing the camera, then each step (turn_left, …), one every
 * `captureMs` from the start, so time spent encoding never adds up. `onPrompt(step, secondsLeft)`
 * shows the instruction and its countdown.
 */
export async function captureSteps(video, steps, { captureMs = 1500, onPrompt = () => {} } = {}) {
  const started = performance.now();
  const photos = [];
  for (const [i, step] of ["front", ...steps].entries()) {
    const due = started + (i + 1) * captureMs;
    for (let left = Math.ceil((due - performance.now()) / 1000); left > 0; left -= 1) {
      onPrompt(step, left);
      await sleep(Math.min(1000, due - performance.now()));
    }
    onPrompt(step, 0);
    await sleep(Math.max(0, due - performance.now()));
    photos.push((await captureFrame(video)).blob);
  }
  return photos;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** The API, from the browser: a publishable client key at most, and a token per attempt. */
export class FaceAuthClient {
  /** `baseUrl`: the service's origin ("" for the page's own); `apiKey`: a client key, if required. */
  constructor({ baseUrl = "", apiKey = "" } = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.apiKey = apiKey;
  }

  async #post(path, form) {
    const headers = this.apiKey ? { Authorization: "Bearer " + this.apiKey } : {};
    let response;
    try {
      response = await fetch(this.baseUrl + path, { method: "POST", body: form, headers });
    } catch (err) {
      throw new FaceAuthError("network", 0, undefined, String(err));
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const code = body?.error?.code || "unknown";
      throw new FaceAuthError(code, response.status, describeError(code), body?.error?.message);
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
   * Verifies `photos[0]` (and, for a challenge, the step photos after it) against `userId` within
   * a session. Resolves to `{ verified, token, session_id }`; the token goes to your backend.
   */
  verify({ userId, photos, sessionToken }) {
    const form = new FormData();
    form.append("user_id", userId);
    form.append("image", photos[0], "front.jpg");
    photos.slice(1).forEach((blob, i) => form.append("frame_" + (i + 1), blob, "frame.jpg"));
    if (sessionToken) form.append("session_token", sessionToken);
    return this.#post("/api/verify", form);
  }
}

/**
 * A ready capture UI inside `container`: the camera preview with a face oval, one prompt line
 * (aria-live, so screen readers announce each instruction and the outcome), and a countdown.
 * `enroll(...)` and `verify(...)` open the camera, guide the user, send, close the camera, and
 * resolve to the service's answer or reject with a FaceAuthError whose sentence is on screen.
 */
export class FaceAuthWidget {
  constructor(container, { baseUrl = "", apiKey = "", messages = {}, captureMs = 1500 } = {}) {
    this.client = new FaceAuthClient({ baseUrl, apiKey });
    this.messages = { ...DEFAULT_MESSAGES, ...messages };
    this.captureMs = captureMs;
    const root = document.createElement("div");
    root.className = "faceauth";
    root.style.cssText = "position:relative;max-width:480px;width:100%;font:16px/1.4 system-ui,sans-serif";
    this.video = document.createElement("video");
    this.video.setAttribute("aria-hidden", "true");
    // Mirrored like a mirror, which is what people expect of a selfie view; photos are not.
    this.video.style.cssText = "width:100%;border-radius:12px;background:#222;transform:scaleX(-1);display:block";
    const oval = document.createElement("div");
    oval.setAttribute("aria-hidden", "true");
    oval.style.cssText = "position:absolute;left:25%;top:8%;width:50%;height:70%;border:3px solid rgba(255,255,255,.85);" +
      "border-radius:50%;box-shadow:0 0 0 999px rgba(0,0,0,.35);pointer-events:none";
    const frame = document.createElement("div");
    frame.style.cssText = "position:relative;overflow:hidden;border-radius:12px";
    frame.append(this.video, oval);
    this.prompt = document.createElement("p");
    this.prompt.className = "faceauth-prompt";
    this.prompt.setAttribute("role", "status");
    this.prompt.setAttribute("aria-live", "polite");
    this.countdown = document.createElement("span");
    this.countdown.className = "faceauth-countdown";
    this.countdown.setAttribute("aria-hidden", "true");
    root.append(frame, this.prompt, this.countdown);
    container.append(root);
    this.root = root;
    this.say("ready");
  }

  /** Shows (and announces) a message by key, or a sentence as given. */
  say(keyOrSentence, state = "") {
    this.prompt.textContent = this.messages[keyOrSentence] || keyOrSentence;
    this.root.dataset.state = state;
  }

  async #withCamera(run) {
    this.say("opening_camera", "busy");
    let stream;
    try {
      stream = await openCamera(this.video);
      return await run();
    } catch (err) {
      const error = err instanceof FaceAuthError ? err : new FaceAuthError("unknown", 0, undefined, String(err));
      this.say(describeError(error.code, this.messages), "error");
      this.root.dataset.code = error.code;
      throw error;
    } finally {
      closeCamera(stream);
      this.countdown.textContent = "";
    }
  }

  /** One still after `captureMs`; halfway, a dark picture asks for more light while there is time. */
  async #still() {
    this.say("hold_still", "busy");
    await sleep(this.captureMs / 2);
    if ((await captureFrame(this.video)).brightness < 50) this.say("more_light", "busy");
    await sleep(this.captureMs / 2);
    return (await captureFrame(this.video)).blob;
  }

  #onPrompt = (step, secondsLeft) => {
    if (this.root.dataset.step !== step) this.say(step, "busy");
    this.root.dataset.step = step;
    this.countdown.textContent = secondsLeft > 0 ? String(secondsLeft) : "";
  };

  /** Enrols one photo: `{ userId, sessionToken }` or `{ userId, enrollmentToken }`, and `consent`. */
  enroll({ userId, sessionToken, enrollmentToken, consent }) {
    return this.#withCamera(async () => {
      const photo = await this.#still();
      this.say("checking", "busy");
      const result = await this.client.enroll({ userId, photo, sessionToken, enrollmentToken, consent });
      this.say("enrolled", "done");
      return result;
    });
  }

  /**
   * Verifies within a session. `steps` (from your backend's session, in challenge mode) are asked
   * one by one; without them one still photo is sent. A "not verified" answer rejects with code
   * `not_verified`.
   */
  verify({ userId, sessionToken, steps }) {
    // A backend passing the session's `steps` along as null (no challenge) means none.
    steps = steps || [];
    return this.#withCamera(async () => {
      const photos = steps.length
        ? await captureSteps(this.video, steps, { captureMs: this.captureMs, onPrompt: this.#onPrompt })
        : [await this.#still()];
      this.say("checking", "busy");
      const result = await this.client.verify({ userId, photos, sessionToken });
      if (!result.verified) throw new FaceAuthError("not_verified", 200, describeError("not_verified", this.messages));
      this.say("verified", "done");
      return result;
    });
  }
}
