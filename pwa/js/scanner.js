// Live camera scanning: the rear camera into a <video>, frames decoded a few times a
// second with the browser's BarcodeDetector where it exists (Android, macOS), else the
// vendored WebAssembly decoder. Torch on/off where the camera track supports it.

const FORMATS = ["qr_code", "code_128"];
const MAX_SIDE = 960; // enough for a tag at arm's length; keeps each decode cheap
const INTERVAL_MS = 120;

async function nativeDetector() {
  if (!("BarcodeDetector" in globalThis)) return null;
  try {
    const supported = await globalThis.BarcodeDetector.getSupportedFormats();
    const formats = FORMATS.filter((f) => supported.includes(f));
    if (!formats.length) return null;
    const detector = new globalThis.BarcodeDetector({ formats });
    return async (canvas) => (await detector.detect(canvas)).map((b) => b.rawValue);
  } catch {
    return null;
  }
}

async function wasmDetector() {
  const { readCodes } = await import("./zxing.js");
  return (canvas, ctx) => readCodes(ctx.getImageData(0, 0, canvas.width, canvas.height));
}

export class Scanner {
  /**
   * @param {HTMLVideoElement} video
   * @param {{accept: (text: string) => boolean, onFound: (text: string) => void}} handlers
   *   accept() filters decoded texts (a valid tag code, an enrollment link); the first
   *   accepted text is passed to onFound and scanning stops.
   */
  constructor(video, { accept, onFound }) {
    this.video = video;
    this.accept = accept;
    this.onFound = onFound;
    this.stream = null;
    this.running = false;
    this.torchOn = false;
    this.engine = null;
    this.canvas = document.createElement("canvas");
    this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
  }

  static get available() {
    return Boolean(navigator.mediaDevices?.getUserMedia);
  }

  /** Start the camera and the decode loop. Throws when the camera cannot be opened. */
  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    this.video.srcObject = this.stream;
    this.video.setAttribute("playsinline", "");
    this.video.muted = true;
    await this.video.play();
    const native = await nativeDetector();
    this.engine = native ? "native" : "wasm";
    this.detect = native ?? (await wasmDetector());
    this.running = true;
    this.loop();
  }

  get track() {
    return this.stream?.getVideoTracks()[0] ?? null;
  }

  /** True when the camera has a torch the page may switch. */
  get torchSupported() {
    const caps = this.track?.getCapabilities?.() ?? {};
    return Boolean(caps.torch);
  }

  async setTorch(on) {
    if (!this.torchSupported) return false;
    await this.track.applyConstraints({ advanced: [{ torch: on }] });
    this.torchOn = on;
    return true;
  }

  async loop() {
    while (this.running) {
      const started = performance.now();
      try {
        const found = await this.decodeFrame();
        if (found && this.running) {
          this.stop();
          this.onFound(found);
          return;
        }
      } catch (error) {
        console.warn("scan frame failed", error);
      }
      const wait = Math.max(0, INTERVAL_MS - (performance.now() - started));
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  async decodeFrame() {
    const v = this.video;
    if (!v.videoWidth || v.readyState < 2) return null;
    const scale = Math.min(1, MAX_SIDE / Math.max(v.videoWidth, v.videoHeight));
    this.canvas.width = Math.round(v.videoWidth * scale);
    this.canvas.height = Math.round(v.videoHeight * scale);
    this.ctx.drawImage(v, 0, 0, this.canvas.width, this.canvas.height);
    const texts = await this.detect(this.canvas, this.ctx);
    const accepted = [...new Set(texts.filter((t) => this.accept(t)))];
    // Two different tags in view: wait until only one is (never guess which one).
    return accepted.length === 1 ? accepted[0] : null;
  }

  stop() {
    this.running = false;
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.video.srcObject = null;
  }
}
