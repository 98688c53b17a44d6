// faceauth web SDK: the camera flow of a face sign-in, as one ES module with no dependencies and
// no build step. Served by the service at /sdk/faceauth.js; also an npm package (web/sdk).
//
// Two layers:
// - building blocks: openCamera, captureFrame, recordCapture (one continuous capture that follows
//   the server's plan: prompts at their times, the screen's colours), FaceAuthClient (enroll /
//   verify over the API with a session token or an enrolment token), describeError (code -> sentence);
// - FaceAuthWidget: a ready UI (camera, face oval, prompts announced to screen
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
  pose_mismatch: "Start facing the camera. When asked, turn your head a little further, hold a moment, and come back.",
  identity_changed: "The same person must stay in front of the camera. Please try again.",
  capture_discontinuous: "We need the live camera, not a picture or a recording. Keep your face in view and follow each prompt.",
  capture_incomplete: "Keep this page open and your face in view until the end, then try again.",
  light_not_followed: "We could not see the screen's colours on your face. Turn the screen brightness up, hold the device closer, and avoid bright light behind you.",
  light_not_reflected: "We need the live camera, not a recording. Please try again with your camera.",
  light_required: "This sign-in needs the colour check. Turn off reduced motion for this page, or ask for another way to sign in.",
  colours: "The screen will change colour for a few seconds. Keep looking at it.",
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

/** Whether the person asked the system for less motion (the light challenge's flashes are then off). */
export function prefersReducedMotion() {
  return Boolean(globalThis.matchMedia?.("(prefers-reduced-motion: reduce)").matches);
}

/**
 * One continuous capture that follows a challenge's `plan` (the `capture` object of a session or
 * challenge): frames at `plan.fps` for `plan.duration_ms`, each stamped with its time since the
 * start (the monotonic clock), each prompt shown at its `at_ms` (`onPrompt(step)`; "front" first),
 * each colour painted at its `at_ms` (`onColour(css)`, `null` at the end) unless `light` is false.
 * Frames are at most `maxSide` px on their longer side (JPEG): a 5 s capture at 15 fps is about
 * 1–2 MB. Resolves to `{ frames: Blob[], times: number[], light: "shown" | "declined" }`.
 */
export async function recordCapture(video, plan, { onPrompt = () => {}, onColour = () => {}, light = true, maxSide = 480, quality = 0.85 } = {}) {
  const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const showsLight = light && (plan.light || []).length > 0;
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
   * Verifies one `photo`, or a `capture` (from recordCapture: the answer to a challenge), against
   * `userId` within a session. Resolves to `{ verified, token, session_id }`; the token goes to
   * your backend.
   */
  verify({ userId, photo, capture, sessionToken, challengeId }) {
    const form = new FormData();
    form.append("user_id", userId);
    if (capture) {
      capture.frames.forEach((blob) => form.append("capture", blob, "frame.jpg"));
      form.append("capture_ms", JSON.stringify(capture.times));
      form.append("capture_light", capture.light);
    } else {
      form.append("image", photo, "face.jpg");
    }
    if (sessionToken) form.append("session_token", sessionToken);
    if (challengeId) form.append("challenge_id", challengeId);
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
  constructor(container, { baseUrl = "", apiKey = "", messages = {}, captureMs = 1500, light } = {}) {
    this.client = new FaceAuthClient({ baseUrl, apiKey });
    this.messages = { ...DEFAULT_MESSAGES, ...messages };
    this.captureMs = captureMs;
    // The light challenge's colours, unless the person asked for reduced motion or the app opts out.
    this.light = light ?? !prefersReducedMotion();
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
      "border-radius:50%;box-shadow:0 0 0 999px rgba(0,0,0,.35);pointer-events:none";
    const frame = document.createElement("div");
    frame.style.cssText = "position:relative;overflow:hidden;border-radius:12px";
    frame.append(this.video, oval);
    this.oval = oval;
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
      this.#onColour(null);
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

  #onPrompt = (step) => {
    if (this.root.dataset.step !== step) this.say(step, "busy");
    this.root.dataset.step = step;
  };

  // The screen around the oval takes the colour (the face reflects it); the widget stays on top.
  #onColour = (css) => {
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
    return this.#withCamera(async () => {
      const photo = await this.#still();
      this.say("checking", "busy");
      const result = await this.client.enroll({ userId, photo, sessionToken, enrollmentToken, consent });
      this.say("enrolled", "done");
      return result;
    });
  }

  /**
   * Verifies within a session. `capture` (the session's plan, in challenge mode: hand it from your
   * backend with the token) is recorded as one continuous capture with its prompts and colours;
   * without it one still photo is sent. A "not verified" answer rejects with code `not_verified`.
   */
  verify({ userId, sessionToken, capture, challengeId }) {
    return this.#withCamera(async () => {
      let answer;
      if (capture) {
        if (this.light && (capture.light || []).length) this.say("colours", "busy");
        const recorded = await recordCapture(this.video, capture, {
          onPrompt: this.#onPrompt, onColour: this.#onColour, light: this.light,
        });
        answer = { capture: recorded };
      } else {
        answer = { photo: await this.#still() };
      }
      this.say("checking", "busy");
      const result = await this.client.verify({ userId, sessionToken, challengeId, ...answer });
      if (!result.verified) throw new FaceAuthError("not_verified", 200, describeError("not_verified", this.messages));
      this.say("verified", "done");
      return result;
    });
  }
}
