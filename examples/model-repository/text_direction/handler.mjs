// A custom handler (see "Model server" in the README): POST /v2/models/text_direction/predict
// with a PNG or JPEG of a text line answers {"label": "0" | "180", "confidence": p}: is the
// line upright, or upside down. Runs on the server's worker threads.
import sharp from 'sharp';

const HEIGHT = 48;
const WIDTH = 192;
const LABELS = ['0', '180'];

/** The image (PNG, JPEG, WebP...: sharp reads the format from the bytes) as PP-OCR's classifier takes it. */
export async function preprocess(body) {
  const image = sharp(body);
  const { width, height } = await image.metadata();
  if (!width || !height) throw new Error('the body is not an image');
  // Height 48, the width that keeps the aspect ratio (at most 192), the rest padded with 0.
  const w = Math.max(1, Math.min(WIDTH, Math.ceil((width * HEIGHT) / height)));
  const rgb = await image.removeAlpha().toColourspace('srgb').resize(w, HEIGHT, { fit: 'fill' }).raw().toBuffer();
  const x = new Float32Array(3 * HEIGHT * WIDTH);
  for (let y = 0; y < HEIGHT; y++) {
    for (let i = 0; i < w; i++) {
      for (let c = 0; c < 3; c++) x[c * HEIGHT * WIDTH + y * WIDTH + i] = rgb[(y * w + i) * 3 + c] / 127.5 - 1;
    }
  }
  return { x: { type: 'float32', dims: [1, 3, HEIGHT, WIDTH], data: x } };
}

/** [p(0°), p(180°)] to the label and its probability. */
export function postprocess(outputs) {
  const [p0, p180] = outputs['softmax_0.tmp_0'].data;
  return p180 > p0 ? { label: LABELS[1], confidence: p180 } : { label: LABELS[0], confidence: p0 };
}
