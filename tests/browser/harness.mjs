// Shared by the browser tests: the real service started on loopback, Debian's Chromium, and a fake
// camera that plays photos (Y4M) so capture flows see real faces.
import { spawn } from "node:child_process";
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

/** The faceauth binary on a free port with the test models; resolves to its base URL. */
export async function startService(extra = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "faceauth-browser-"));
  const env = {
    PATH: process.env.PATH, HOME: dataDir, HOST: "127.0.0.1", PORT: "0", LOG_FORMAT: "text",
    DATA_DIR: join(dataDir, "data"), MODEL_DIR: join(root, "models"),
    DETECTOR_MODEL: "det_500m.onnx", RECOGNIZER_MODEL: "arcface_mobilefacenet_128d.onnx",
    ORT_DYLIB_PATH: process.env.ORT_DYLIB_PATH || join(root, ".ort/libonnxruntime.so.1.31.1"),
    INFERENCE_WORKERS: "1", RATE_LIMIT_PER_IP: "0", ...extra,
  };
  const bin = process.env.FACEAUTH_BIN || join(root, "target/debug/faceauth");
  return startProcess(bin, ["serve"], { cwd: dataDir, env }, /listening on (http:\/\/[0-9.:]+)/, dataDir);
}

/** Any server process; resolves to the first capture of `ready` in its output. */
export function startProcess(bin, args, options, ready, dataDir = null) {
  const child = spawn(bin, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  services.push({ child, dataDir });
  return new Promise((resolveAddr, reject) => {
    let out = "";
    const onData = (chunk) => {
      out += chunk;
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
/// own decoder, converted here.
export async function frameOf(file, mirror, shift = 0) {
  const page = await (await sharedBrowser()).newPage();
  const dataUrl = "data:image/jpeg;base64," + readFileSync(photo(file)).toString("base64");
  const rgba = await page.evaluate(async ([src, mirror, shift]) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = 640;
    canvas.height = 480;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#808080";
    ctx.fillRect(0, 0, 640, 480);
    if (mirror) {
      ctx.translate(640, 0);
      ctx.scale(-1, 1);
    }
    const scale = Math.min(640 / img.width, 480 / img.height);
    const w = img.width * scale, h = img.height * scale;
    ctx.drawImage(img, (640 - w) / 2 + shift, (480 - h) / 2, w, h);
    return Array.from(ctx.getImageData(0, 0, 640, 480).data);
  }, [dataUrl, mirror, shift]);
  await page.close();
  const [W, H] = [640, 480];
  const y = Buffer.alloc(W * H), u = Buffer.alloc(W * H / 4), v = Buffer.alloc(W * H / 4);
  for (let i = 0; i < W * H; i++) {
    const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
    y[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  for (let cy = 0; cy < H / 2; cy++) {
    for (let cx = 0; cx < W / 2; cx++) {
      let [cb, cr] = [0, 0];
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const i = (2 * cy + dy) * W + 2 * cx + dx;
        const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
        cb += 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
        cr += 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
      }
      u[cy * W / 2 + cx] = Math.max(0, Math.min(255, Math.round(cb / 4)));
      v[cy * W / 2 + cx] = Math.max(0, Math.min(255, Math.round(cr / 4)));
    }
  }
  return Buffer.concat([Buffer.from("FRAME\n"), y, u, v]);
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

