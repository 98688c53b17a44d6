// Shared by the browser tests: the real service started on loopback, Debian's Chromium, and a fake
// camera that plays photos (Y4M) so capture flows see real faces.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const faces = process.env.FACES_DIR || join(root, "../shared/faces");
export const shots = join(root, "target/browser");
export const photo = (rel) => join(faces, rel);
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"];

const services = [];
let browser;

/** The faceauth binary on a free port with the default pack (open); resolves to its base URL. */
export async function startService(extra = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "faceauth-browser-"));
  const env = {
    PATH: process.env.PATH, HOME: dataDir, HOST: "127.0.0.1", PORT: "0", LOG_FORMAT: "text",
    DATA_DIR: join(dataDir, "data"), MODEL_DIR: join(root, "models"),
    ORT_DYLIB_PATH: process.env.ORT_DYLIB_PATH || join(root, ".ort/libonnxruntime.so.1.31.1"),
    INFERENCE_WORKERS: "1", RATE_LIMIT_PER_IP: "0",
    SDK_GUIDE_DIR: join(root, "web/guide/node_modules/@mediapipe/face_mesh"), ...extra,
  };
  const bin = process.env.FACEAUTH_BIN || join(root, "target/debug/faceauth");
  return startProcess(bin, ["serve"], { cwd: dataDir, env }, /listening on (http:\/\/[0-9.:]+)/, dataDir);
}

/** Any server process; resolves to the first capture of `ready` in its output. */
export function startProcess(bin, args, options, ready, dataDir = null) {
  const child = spawn(bin, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  const entry = { child, dataDir, out: "" };
  services.push(entry);
  return new Promise((resolveAddr, reject) => {
    let out = "";
    const onData = (chunk) => {
      out += chunk;
      entry.out = out;
      const m = out.match(ready);
      if (m) resolveAddr(m[1]);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${bin} exited (${code}) before it was ready:\n${out}`)));
  });
}

/** One shared headless Chromium with a synthetic camera (a moving test pattern). */
export async function sharedBrowser() {
  browser ??= await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [...CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
  });
  return browser;
}

/** What the services started so far have logged, for a failing assertion's message. */
export function serviceLogs(needle = "") {
  return services.map((s) => s.out).join("\n").split("\n").filter((l) => l.includes(needle)).join("\n");
}

export async function stopAll() {
  await browser?.close();
  for (const { child, dataDir } of services) {
    child.kill();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A request to the service with a key, JSON in and out. */
export async function call(base, path, key, body) {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { ...(key ? { Authorization: "Bearer " + key } : {}), "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/// One I420 frame of a photo (mirrored or not) fitted into 640x480: the pixels come from Chromium's
/// own decoder, its RGBA converted to YUV here.
export async function frameOf(file, mirror, shift = 0, page = null, shiftY = 0) {
  const own = !page;
  page ??= await (await sharedBrowser()).newPage();
  const dataUrl = "data:image/jpeg;base64," + readFileSync(photo(file)).toString("base64");
  const frame = await drawnFrame(page, dataUrl, (ctx, img, W, H, mirror, shift, shiftY) => {
    if (mirror) {
      ctx.translate(W, 0);
      ctx.scale(-1, 1);
    }
    const scale = Math.min(W / img.width, H / img.height);
    const w = img.width * scale, h = img.height * scale;
    ctx.drawImage(img, (W - w) / 2 + shift, (H - h) / 2 + shiftY, w, h);
  }, [mirror, shift, shiftY]);
  if (own) await page.close();
  return frame;
}

/// One 640x480 I420 frame: `draw(ctx, img, W, H, ...args)` (run in the page) puts the photo at
/// `dataUrl` on a grey ground with Chromium's own decoder; the RGBA is converted here.
async function drawnFrame(page, dataUrl, draw, args) {
  const rgba = await page.evaluate(async ([src, draw, args]) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const [W, H] = [640, 480];
    const canvas = document.createElement("canvas");
    canvas.width = W;
    canvas.height = H;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#808080";
    ctx.fillRect(0, 0, W, H);
    new Function(`return (${draw})`)()(ctx, img, W, H, ...args);
    const rgba = ctx.getImageData(0, 0, W, H).data;
    let text = "";
    for (let i = 0; i < rgba.length; i += 0x8000) text += String.fromCharCode(...rgba.subarray(i, i + 0x8000));
    return btoa(text);
  }, [dataUrl, draw.toString(), args]);
  return i420Frame(Buffer.from(rgba, "base64"));
}

/// A Y4M frame (I420, BT.601 full range, chroma averaged over each 2x2 block) of a 640x480 RGBA
/// image as a canvas gives it.
function i420Frame(rgba) {
  const [W, H] = [640, 480];
  const out = new Uint8Array((W * H * 3) / 2);
  for (let i = 0; i < W * H; i++) {
    out[i] = Math.round(0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]);
  }
  for (let cy = 0; cy < H / 2; cy++) {
    for (let cx = 0; cx < W / 2; cx++) {
      let cb = 0, cr = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const i = (2 * cy + dy) * W + 2 * cx + dx;
        const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
        cb += 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
        cr += 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
      }
      out[W * H + (cy * W) / 2 + cx] = Math.max(0, Math.min(255, Math.round(cb / 4)));
      out[(W * H * 5) / 4 + (cy * W) / 2 + cx] = Math.max(0, Math.min(255, Math.round(cr / 4)));
    }
  }
  return Buffer.concat([Buffer.from("FRAME\n"), out]);
}

/// A Y4M video of a recording's frames (files relative to ../shared/faces), each shown once, at
/// `fps` ("24000:1001" for the pexels recording): Chromium's fake camera plays it from the start
/// when the camera opens, in a loop.
/// `files` are strings, or `{ file, dx, dy }` to move a frame's picture by whole pixels.
export async function y4mOfFrames(files, fps = "24000:1001") {
  const frames = [Buffer.from(`YUV4MPEG2 W640 H480 F${fps} Ip A1:1\n`)];
  const page = await (await sharedBrowser()).newPage();
  for (const f of files) {
    const { file, dx = 0, dy = 0 } = typeof f === "string" ? { file: f } : f;
    frames.push(await frameOf(file, false, dx, page, dy));
  }
  await page.close();
  const path = join(mkdtempSync(join(tmpdir(), "faceauth-y4m-")), "camera.y4m");
  writeFileSync(path, Buffer.concat(frames));
  return path;
}

/// Where `faceauth inspect` finds the subject's centre in each file.
function centres(files) {
  const bin = process.env.FACEAUTH_BIN || join(root, "target/debug/faceauth");
  const env = { PATH: process.env.PATH, MODEL_DIR: join(root, "models"), DETECTOR_MODEL: "det_500m.onnx",
    RECOGNIZER_MODEL: "arcface_mobilefacenet_128d.onnx", LIVENESS_MODELS: "",
    ORT_DYLIB_PATH: process.env.ORT_DYLIB_PATH || join(root, ".ort/libonnxruntime.so.1.31.1") };
  const out = JSON.parse(execFileSync(bin, ["inspect", ...files.map(photo)], { env, stdio: ["ignore", "pipe", "ignore"] }));
  return out.map((e) => [(e.subject.box[0] + e.subject.box[2]) / 2, (e.subject.box[1] + e.subject.box[3]) / 2]);
}

/// The frames of a genuine answer to two turns from the pexels recording (the runs of
/// tests/api/capture.rs: level 359-385, then her real turns), for a session's `steps`. As there,
/// each later run is moved so her face starts where the run before left it (she moved about the
/// frame between the stretches; the motion within each run is the recording's).
export function genuineFrames(steps) {
  const run = (a, b) => (a <= b ? Array.from({ length: b - a + 1 }, (_, i) => a + i) : Array.from({ length: a - b + 1 }, (_, i) => a - i));
  const runs = steps[0] === "turn_left"
    ? [run(359, 385), run(386, 399), run(435, 458), run(457, 436)]
    : [run(359, 385), run(443, 458), run(457, 433), run(434, 452)];
  const file = (i) => `video/pexels_woman/frame_${String(i).padStart(4, "0")}.jpg`;
  const out = [];
  let [dx, dy] = [0, 0];
  for (const [k, numbers] of runs.entries()) {
    const last = k > 0 ? runs[k - 1].at(-1) : null;
    if (last !== null && Math.abs(numbers[0] - last) > 1) {
      const [[ax, ay], [bx, by]] = centres([file(last), file(numbers[0])]);
      [dx, dy] = [dx + ax - bx, dy + ay - by];
    }
    out.push(...numbers.map((i) => ({ file: file(i), dx: Math.round(dx), dy: Math.round(dy) })));
  }
  // The fake camera loops its file, and the capture starts a little after the camera opens: two
  // seconds more of her, played back and forth from the last frame, keep the loop's jump out of it.
  const tail = out.slice(-24).reverse();
  return [...out, ...tail.slice(1), ...tail.reverse().slice(1), ...out.slice(-24).reverse().slice(1)];
}

/// A Y4M video of a photo held to the camera as a flat sheet and turned to answer a plan's
/// `prompts` on their schedule (a turn about the sheet's vertical axis, a nod about its horizontal
/// one, `degrees` at most, eased out and back), at 30 fps: the presentation an attacker with one
/// photo makes. Each frame is a true perspective projection of the plane (a pinhole camera at
/// 2.5 sheet-heights, drawn in thin strips), so every mesh point follows one homography.
export async function y4mOfSheet(file, prompts, { degrees = 30, leadMs = 600, stepMs = 1300, tailMs = 1500 } = {}) {
  const fps = 30;
  const last = prompts.at(-1)?.at_ms ?? 0;
  const total = leadMs + last + stepMs + tailMs;
  const angles = [];
  for (let t = 0; t < total; t += 1000 / fps) {
    let [yaw, pitch] = [0, 0];
    for (const { step, at_ms } of prompts) {
      const into = t - leadMs - at_ms - 250;
      if (into < 0 || into > stepMs - 250) continue;
      const reach = degrees * Math.sin((Math.PI * into) / (stepMs - 250));
      if (step === "turn_left") yaw = reach;
      if (step === "turn_right") yaw = -reach;
      if (step === "look_up") pitch = reach;
      if (step === "look_down") pitch = -reach;
    }
    // A hand holds it: a slow tremor of a fraction of a degree and a pixel or two, so no two
    // frames are the same picture (the SDK skips a repeated one, as a real camera never gives one).
    const k = t / 1000;
    angles.push([yaw + 0.4 * Math.sin(7.1 * k), pitch + 0.3 * Math.sin(5.3 * k + 1), 1.5 * Math.sin(3.7 * k), 1.2 * Math.sin(4.3 * k + 2)]);
  }
  const page = await (await sharedBrowser()).newPage();
  const dataUrl = "data:image/jpeg;base64," + readFileSync(photo(file)).toString("base64");
  const frames = [Buffer.from(`YUV4MPEG2 W640 H480 F${fps}:1 Ip A1:1\n`)];
  for (const [yaw, pitch, dx, dy] of angles) {
    frames.push(await drawnFrame(page, dataUrl, (ctx, img, W, H, yaw, pitch, dx, dy) => {
      // The sheet fills 80 % of the frame's height when level; the camera is 2.5 heights away.
      const scale = (0.8 * H) / img.height;
      const [w, h] = [img.width * scale, img.height * scale];
      const f = 2.5 * h;
      const [cy, sy] = [Math.cos((yaw * Math.PI) / 180), Math.sin((yaw * Math.PI) / 180)];
      const [cp, sp] = [Math.cos((pitch * Math.PI) / 180), Math.sin((pitch * Math.PI) / 180)];
      // A point (u, v) of the sheet, centred, turned about y then x, seen from f away.
      const project = (u, v) => {
        const [x1, z1] = [u * cy, u * sy];
        const [y2, z2] = [v * cp - z1 * sp, v * sp + z1 * cp];
        const depth = f + z2;
        return [W / 2 + dx + (f * x1) / depth, H / 2 + dy + (f * y2) / depth];
      };
      const strips = 64;
      for (let i = 0; i < strips; i++) {
        for (let j = 0; j < strips; j++) {
          const [u0, v0] = [-w / 2 + (w * i) / strips, -h / 2 + (h * j) / strips];
          const [a, b] = [project(u0, v0), project(u0 + w / strips, v0 + h / strips)];
          ctx.drawImage(img, (img.width * i) / strips, (img.height * j) / strips, img.width / strips, img.height / strips,
            a[0], a[1], b[0] - a[0] + 0.6, b[1] - a[1] + 0.6);
        }
      }
    }, [yaw, pitch, dx, dy]));
  }
  await page.close();
  const path = join(mkdtempSync(join(tmpdir(), "faceauth-y4m-")), "camera.y4m");
  writeFileSync(path, Buffer.concat(frames));
  return path;
}

/// A Y4M video (what Chromium's fake camera plays, in a loop) of consecutive segments, each one
/// photo for some seconds.
export async function y4m(segments) {
  const frames = [Buffer.from("YUV4MPEG2 W640 H480 F30:1 Ip A1:1\n")];
  for (const { file, mirror = false, shift = 0, seconds } of segments) {
    frames.push(...Array(Math.round(30 * seconds)).fill(await frameOf(file, mirror, shift)));
  }
  const path = join(mkdtempSync(join(tmpdir(), "faceauth-y4m-")), "camera.y4m");
  writeFileSync(path, Buffer.concat(frames));
  return path;
}

/** A Chromium whose camera plays `video` (granted without asking), for one `run(page)`. */
export async function withCamera(video, run) {
  const camera = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [...CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
           `--use-file-for-fake-video-capture=${video}`],
  });
  try {
    return await run(await camera.newPage());
  } finally {
    await camera.close();
    rmSync(dirname(video), { recursive: true, force: true });
  }
}

