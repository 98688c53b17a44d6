// Types for faceauth.js, the faceauth web SDK.

export type Step = "turn_left" | "turn_right" | "look_up" | "look_down";
export type MessageKey = keyof typeof DEFAULT_MESSAGES;
export type Messages = Partial<Record<MessageKey | string, string>>;

export declare const DEFAULT_MESSAGES: Readonly<Record<string, string>>;

/** The sentence for a service error code or an SDK code (camera_denied, network, not_verified…). */
export declare function describeError(code: string, messages?: Messages): string;

export declare class FaceAuthError extends Error {
  readonly code: string;
  /** The HTTP status, 0 when the request never got an answer. */
  readonly status: number;
  /** What to show the end user. */
  readonly sentence: string;
  /** Failures still allowed before the lockout, when the refusal counted as one. */
  readonly attemptsLeft?: number;
  constructor(code: string, status?: number, sentence?: string, detail?: string, attemptsLeft?: number);
}

/** "2 tries left." for `attempts_left`; "" when undefined. */
export declare function describeTries(attemptsLeft: number | undefined | null, messages?: Messages): string;

/** The face guide's release, served by the service at /sdk/face-mesh/<version>/, and its loader's SRI. */
export declare const FACE_MESH: { readonly version: string; readonly integrity: string };

/** Fractions of the frame, a brightness 0-255 and degrees: when a face is ready for a capture. */
export declare const GUIDE_LIMITS: Readonly<Record<string, number>>;
export declare const MOVE_ANGLES: { readonly yaw: number; readonly pitch: number };

export interface Look {
  faces: number;
  /** Fractions of the frame as the camera sees it (not mirrored). */
  box?: { x: number; y: number; w: number; h: number };
  /** Degrees; positive: turned to the subject's own left. */
  yaw?: number;
  /** Degrees; positive: up. Its zero differs between faces: compare within one capture. */
  pitch?: number;
  brightness?: number;
  /** What the look cost, ms. */
  ms: number;
}

export declare class FaceGuide {
  look(video: HTMLVideoElement): Promise<Look>;
}

/** The face guide from the service (once per page), or null where it cannot run (not installed, no WebGL, a CSP without eval). */
export declare function loadFaceGuide(options?: { baseUrl?: string }): Promise<FaceGuide | null>;
export declare function measureFace(points: { x: number; y: number }[]): { box: { x: number; y: number; w: number; h: number }; yaw: number; pitch: number };
/** A message key for what keeps the capture from starting, or null when the face is ready. */
export declare function judgeLook(look: Look, limits?: Readonly<Record<string, number>>): string | null;
export declare function moveReached(step: string, look: Look, start: Look, angles?: { yaw: number; pitch: number }): boolean;

export declare function openCamera(video: HTMLVideoElement): Promise<MediaStream>;
export declare function closeCamera(stream: MediaStream | undefined | null): void;
export declare function captureFrame(video: HTMLVideoElement, quality?: number): Promise<{ blob: Blob; brightness: number }>;
/** A challenge's plan: the `capture` object of a verify session or of POST /api/challenges. */
export interface CapturePlan {
  fps: number;
  frames: number;
  duration_ms: number;
  /** The longest side a frame may have (px); larger frames are refused unread. */
  max_side: number;
  prompts: { step: Step; at_ms: number }[];
  light: { colour: string; css: string; at_ms: number; ms: number }[];
}

/** One continuous capture, as verify sends it. */
export interface RecordedCapture {
  frames: Blob[];
  /** Each frame's time in ms since the capture started. */
  times: number[];
  /** "declined" when the plan carried no colours (the backend asked for `movement`). */
  light: "shown" | "declined";
}

/** The person's prefers-reduced-motion: tell your backend, which may ask for `liveness: "movement"`. */
export declare function prefersReducedMotion(): boolean;
export declare function recordCapture(
  video: HTMLVideoElement,
  plan: CapturePlan,
  options?: {
    onPrompt?: (step: "front" | Step) => void;
    onColour?: (css: string | null) => void;
    maxSide?: number;
    /** Aborted: the recording stops with code `cancelled`. */
    signal?: AbortSignal;
    quality?: number;
  },
): Promise<RecordedCapture>;

/** The recording format `faceauth liveness-eval` reads. */
export declare const RECORDING_FORMAT: "faceauth-capture/1";
/**
 * A capture as a file for `faceauth liveness-eval` (JSON: the plan, the times, the frames as data
 * URLs, the label). Nothing is sent anywhere.
 */
export declare function recordingFile(
  capture: RecordedCapture,
  plan: CapturePlan,
  /** `bona_fide`, or an attack kind: `print`, `screen`, `replay`, `mask`, … */
  label: string,
  options?: { note?: string },
): Promise<Blob>;
/** Offers the file as a download (the browser's own save). */
export declare function saveRecording(blob: Blob, name: string): void;

/** An operator's recording mode for the widget's verify. */
export interface RecordOptions {
  label: string;
  note?: string;
  /** false: the capture is saved only, not sent (verify resolves to `{ recorded: name }`). */
  send?: boolean;
  /** Where the file goes; a download by default. */
  onFile?: (file: Blob, name: string) => void;
}

export interface ClientOptions {
  /** The service's origin; "" for the page's own. */
  baseUrl?: string;
  /** A publishable client key, when the service requires one. Never the secret key. */
  apiKey?: string;
}

export interface EnrollResult {
  user_id: string;
  reference_id: string;
  references: number;
}

export interface VerifyResult {
  user_id: string;
  verified: boolean;
  /** Not verified: failures still allowed before the lockout. */
  attempts_left?: number;
  /** The signed result (ES256/EdDSA JWT) for your backend to check against the JWKS. */
  token?: string;
  token_expires_at?: number;
  session_id?: string;
  liveness: { passed?: boolean };
}

/** A face + passkey session's `passkey`: WebAuthn request options without the challenge. */
export type PasskeyRequestOptions = Record<string, unknown>;

/** A registered passkey, as `POST /api/passkeys` describes it. */
export interface PasskeyResult {
  credential_id: string;
  registered_at: string;
  counter: number;
  transports: string[];
  user_verified: boolean;
  backup_eligible: boolean;
}

/** The challenge a face + passkey attempt signs (the session token and the images, in order). */
/** For a capture, `captureMs` is the `capture_ms` field's exact text and `captureLight` what `capture_light` sends. */
export declare function passkeyChallenge(
  sessionToken: string,
  images: Blob[],
  capture?: { captureMs?: string | null; captureLight?: "shown" | "declined" | null },
): Promise<Uint8Array>;
/** Signs `challenge` with a credential `options` allows; the assertion as JSON text. */
export declare function signWithPasskey(options: PasskeyRequestOptions, challenge: Uint8Array): Promise<string>;
/** Creates a credential for the `public_key` of POST /api/passkeys/options; the answer as JSON. */
export declare function createPasskey(options: Record<string, unknown>): Promise<Record<string, unknown>>;

export declare class FaceAuthClient {
  constructor(options?: ClientOptions);
  enroll(args: { userId: string; photo: Blob; sessionToken?: string; enrollmentToken?: string; consent?: string }): Promise<EnrollResult>;
  verify(args: { userId: string; photo?: Blob; capture?: RecordedCapture; sessionToken?: string; challengeId?: string; passkey?: PasskeyRequestOptions | null; onPasskey?: () => void }): Promise<VerifyResult>;
  /** Registers a passkey on this device, with an enrol session's token. */
  registerPasskey(args: { userId: string; sessionToken?: string }): Promise<PasskeyResult>;
}

export interface WidgetOptions extends ClientOptions {
  /** Replacement sentences, by key (see DEFAULT_MESSAGES). */
  messages?: Messages;
  /** Milliseconds before a still photo is taken (1500). */
  captureMs?: number;
  /** Use the face guide when the service serves it (true). */
  guide?: boolean;
  /** How long to wait for a ready face before rejecting with what to change (30000). */
  guideTimeoutMs?: number;
}

export declare class FaceAuthWidget {
  constructor(container: HTMLElement, options?: WidgetOptions);
  readonly root: HTMLDivElement;
  readonly prompt: HTMLParagraphElement;
  /** Shown while the camera is open, focused; Escape does the same. */
  readonly cancelButton: HTMLButtonElement;
  say(keyOrSentence: string, state?: string): void;
  /** Stops the flow before anything is sent (rejects with code `cancelled`). */
  cancel(): void;
  enroll(args: { userId: string; sessionToken?: string; enrollmentToken?: string; consent?: string }): Promise<EnrollResult>;
  verify(args: { userId: string; sessionToken?: string; capture?: CapturePlan | null; challengeId?: string; passkey?: PasskeyRequestOptions | null; record?: RecordOptions }): Promise<VerifyResult | { recorded: string }>;
  /** Registers a passkey on this device (no camera), with an enrol session's token. */
  registerPasskey(args: { userId: string; sessionToken?: string }): Promise<PasskeyResult>;
}
