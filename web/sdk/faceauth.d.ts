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
  constructor(code: string, status?: number, sentence?: string, detail?: string);
}

export declare function openCamera(video: HTMLVideoElement): Promise<MediaStream>;
export declare function closeCamera(stream: MediaStream | undefined | null): void;
export declare function captureFrame(video: HTMLVideoElement, quality?: number): Promise<{ blob: Blob; brightness: number }>;
/** A challenge's plan: the `capture` object of a verify session or of POST /api/challenges. */
export interface CapturePlan {
  fps: number;
  frames: number;
  duration_ms: number;
  prompts: { step: Step; at_ms: number }[];
  light: { colour: string; css: string; at_ms: number; ms: number }[];
}

/** One continuous capture, as verify sends it. */
export interface RecordedCapture {
  frames: Blob[];
  /** Each frame's time in ms since the capture started. */
  times: number[];
  /** "declined" when no colours were shown (reduced motion, or the app's choice). */
  light: "shown" | "declined";
}

export declare function prefersReducedMotion(): boolean;
export declare function recordCapture(
  video: HTMLVideoElement,
  plan: CapturePlan,
  options?: {
    onPrompt?: (step: "front" | Step) => void;
    onColour?: (css: string | null) => void;
    light?: boolean;
    maxSide?: number;
    quality?: number;
  },
): Promise<RecordedCapture>;

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
  /** The signed result (ES256/EdDSA JWT) for your backend to check against the JWKS. */
  token?: string;
  token_expires_at?: number;
  session_id?: string;
  liveness: { passed?: boolean };
}

export declare class FaceAuthClient {
  constructor(options?: ClientOptions);
  enroll(args: { userId: string; photo: Blob; sessionToken?: string; enrollmentToken?: string; consent?: string }): Promise<EnrollResult>;
  verify(args: { userId: string; photo?: Blob; capture?: RecordedCapture; sessionToken?: string; challengeId?: string }): Promise<VerifyResult>;
}

export interface WidgetOptions extends ClientOptions {
  /** Replacement sentences, by key (see DEFAULT_MESSAGES). */
  messages?: Messages;
  /** Milliseconds before a still photo is taken (1500). */
  captureMs?: number;
  /** Show the light challenge's colours (default: unless prefers-reduced-motion). */
  light?: boolean;
}

export declare class FaceAuthWidget {
  constructor(container: HTMLElement, options?: WidgetOptions);
  readonly root: HTMLDivElement;
  readonly prompt: HTMLParagraphElement;
  say(keyOrSentence: string, state?: string): void;
  enroll(args: { userId: string; sessionToken?: string; enrollmentToken?: string; consent?: string }): Promise<EnrollResult>;
  verify(args: { userId: string; sessionToken?: string; capture?: CapturePlan | null; challengeId?: string }): Promise<VerifyResult>;
}
