// The JavaScript half of bench/load.ts's pipeline: what an application does to a
// camera frame before PP-OCR's direction classifier sees it. The bench runs it on the
// main thread, and in an InferencePool's workers (this file is the pool's module).

/** Normalizes a full RGB frame, then samples it down to the classifier's 3x48x192 input. */
function preprocess(frame, model) {
  const { pixels, width, height } = frame;
  // Per-channel normalization of the whole frame, as a real pipeline's first step.
  const normalized = new Float32Array(width * height * 3);
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) normalized[i * 3 + c] = (pixels[i * 3 + c] / 255 - mean[c]) / std[c];
  }
  // Bilinear resize to 48x192, laid out channel-first.
  const H = 48;
  const W = 192;
  const out = new Float32Array(3 * H * W);
  for (let y = 0; y < H; y++) {
    const sy = ((y + 0.5) * height) / H - 0.5;
    const y0 = Math.max(0, Math.floor(sy));
    const y1 = Math.min(height - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < W; x++) {
      const sx = ((x + 0.5) * width) / W - 0.5;
      const x0 = Math.max(0, Math.floor(sx));
      const x1 = Math.min(width - 1, x0 + 1);
      const fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const a = normalized[(y0 * width + x0) * 3 + c];
        const b = normalized[(y0 * width + x1) * 3 + c];
        const d = normalized[(y1 * width + x0) * 3 + c];
        const e = normalized[(y1 * width + x1) * 3 + c];
        out[c * H * W + y * W + x] = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
      }
    }
  }
  return { [model.inputs[0].name]: { type: 'float32', dims: [1, 3, H, W], data: out } };
}

/** The more likely direction: 0 (upright) or 180. */
function postprocess(outputs, _frame, model) {
  const probs = outputs[model.outputs[0].name].data;
  return probs[0] >= probs[1] ? 0 : 180;
}

module.exports = { preprocess, postprocess };
