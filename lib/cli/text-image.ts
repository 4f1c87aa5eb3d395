/**
 * @internal Draws a line of text into a grayscale image with a built-in 5×7 pixel
 * font, so the demo can feed the text-direction classifier a real text line with no
 * image files or image libraries.
 */

/** Rows of each glyph, top to bottom, 5 bits each (bit 4 = leftmost pixel). */
const GLYPHS: Readonly<Record<string, readonly number[]>> = {
  A: [14, 17, 17, 31, 17, 17, 17], B: [30, 17, 17, 30, 17, 17, 30], C: [14, 17, 16, 16, 16, 17, 14],
  D: [30, 17, 17, 17, 17, 17, 30], E: [31, 16, 16, 30, 16, 16, 31], F: [31, 16, 16, 30, 16, 16, 16],
  G: [14, 17, 16, 23, 17, 17, 15], H: [17, 17, 17, 31, 17, 17, 17], I: [14, 4, 4, 4, 4, 4, 14],
  J: [7, 2, 2, 2, 2, 18, 12], K: [17, 18, 20, 24, 20, 18, 17], L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17], N: [17, 17, 25, 21, 19, 17, 17], O: [14, 17, 17, 17, 17, 17, 14],
  P: [30, 17, 17, 30, 16, 16, 16], Q: [14, 17, 17, 17, 21, 18, 13], R: [30, 17, 17, 30, 20, 18, 17],
  S: [15, 16, 16, 14, 1, 1, 30], T: [31, 4, 4, 4, 4, 4, 4], U: [17, 17, 17, 17, 17, 17, 14],
  V: [17, 17, 17, 17, 17, 10, 4], W: [17, 17, 17, 21, 21, 21, 10], X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 10, 4, 4, 4, 4], Z: [31, 1, 2, 4, 8, 16, 31],
  0: [14, 17, 19, 21, 25, 17, 14], 1: [4, 12, 4, 4, 4, 4, 14], 2: [14, 17, 1, 2, 4, 8, 31],
  3: [31, 2, 4, 2, 1, 17, 14], 4: [2, 6, 10, 18, 31, 2, 2], 5: [31, 16, 30, 1, 1, 17, 14],
  6: [6, 8, 16, 30, 17, 17, 14], 7: [31, 1, 2, 4, 8, 8, 8], 8: [14, 17, 17, 14, 17, 17, 14],
  9: [14, 17, 17, 15, 1, 2, 12], ' ': [0, 0, 0, 0, 0, 0, 0], '.': [0, 0, 0, 0, 0, 12, 12],
  '-': [0, 0, 0, 31, 0, 0, 0],
};

/** A grayscale image, row-major, 0 = black, 255 = white. */
export interface GrayImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** Draws `text` (A-Z, 0-9, space, '.', '-') in black on white, `scale` pixels per font pixel. */
export function drawText(text: string, scale: number, margin = scale * 2): GrayImage {
  const chars = [...text.toUpperCase()];
  const width = chars.length * 6 * scale + 2 * margin;
  const height = 7 * scale + 2 * margin;
  const pixels = new Uint8Array(width * height).fill(255);
  chars.forEach((ch, index) => {
    const rows = GLYPHS[ch];
    if (!rows) throw new Error(`drawText has no glyph for ${JSON.stringify(ch)}`);
    for (let row = 0; row < 7; row++) {
      for (let col = 0; col < 5; col++) {
        if (!(rows[row] & (1 << (4 - col)))) continue;
        for (let dy = 0; dy < scale; dy++) {
          const y = margin + row * scale + dy;
          const x0 = margin + (index * 6 + col) * scale;
          pixels.fill(0, y * width + x0, y * width + x0 + scale);
        }
      }
    }
  });
  return { width, height, pixels };
}

/** The image turned upside down (rotated 180°). */
export function rotate180(image: GrayImage): GrayImage {
  return { ...image, pixels: image.pixels.slice().reverse() };
}

/**
 * PaddleOCR's classifier input: resized (nearest) to `height` keeping the aspect ratio,
 * padded with zeros to `width`, 3 channels, scaled to [-1, 1]. Returns CHW floats.
 */
export function toClassifierInput(image: GrayImage, height = 48, width = 192): Float32Array {
  const out = new Float32Array(3 * height * width);
  const scaledWidth = Math.min(width, Math.ceil((image.width * height) / image.height));
  for (let y = 0; y < height; y++) {
    const sy = Math.min(image.height - 1, Math.floor((y * image.height) / height));
    for (let x = 0; x < scaledWidth; x++) {
      const sx = Math.min(image.width - 1, Math.floor((x * image.width) / scaledWidth));
      const v = image.pixels[sy * image.width + sx] / 255 / 0.5 - 1;
      for (let c = 0; c < 3; c++) out[c * height * width + y * width + x] = v;
    }
  }
  return out;
}
