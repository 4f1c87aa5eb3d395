/**
 * Inputs for PP-OCR's models drawn in memory (lib/cli/text-image.ts's 5x7 font), seeded,
 * for the optimization tests and bench/optimize.ts: text lines for the classifier,
 * upright and upside down, and pages of lines for the detector.
 */
import { drawText, rotate180, toClassifierInput } from '../../lib/cli/text-image';
import { seededUniform } from './common';

type Float = { type: 'float32'; dims: number[]; data: Float32Array };

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-';
export function textLine(draw: () => number): string {
  const n = 4 + Math.floor(draw() * 14);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(draw() * ALPHABET.length)];
  return s.trim() || 'A';
}

/** Classifier batches: each line upright and upside down, at font scales 2 to 4. */
export function clsBatches(seed: number, batches: number, lines: number): { x: Float }[] {
  const draw = seededUniform(seed);
  return Array.from({ length: batches }, () => {
    const images = Array.from({ length: lines }, (_, i) => drawText(textLine(draw), 2 + (i % 3))).flatMap((im) => [im, rotate180(im)]);
    const data = new Float32Array(images.length * 3 * 48 * 192);
    images.forEach((im, i) => data.set(toClassifierInput(im), i * 3 * 48 * 192));
    return { x: { type: 'float32' as const, dims: [images.length, 3, 48, 192], data } };
  });
}

/** Detector batches: pages of 320x320 with lines of text at random places, normalised as PP-OCR's det does. */
export function detBatches(seed: number, batches: number, pages: number): { x: Float }[] {
  const draw = seededUniform(seed);
  const S = 320;
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  return Array.from({ length: batches }, () => {
    const data = new Float32Array(pages * 3 * S * S);
    for (let p = 0; p < pages; p++) {
      const px = new Uint8Array(S * S).fill(255);
      for (let y = 8 + Math.floor(draw() * 20); y < S - 30; ) {
        const im = drawText(textLine(draw).slice(0, 12), 2 + Math.floor(draw() * 2));
        const x0 = Math.floor(draw() * Math.max(1, S - im.width));
        for (let r = 0; r < im.height && y + r < S; r++) for (let c = 0; c < im.width && x0 + c < S; c++) px[(y + r) * S + x0 + c] = im.pixels[r * im.width + c];
        y += im.height + 10 + Math.floor(draw() * 30);
      }
      for (let c = 0; c < 3; c++) for (let i = 0; i < S * S; i++) data[(p * 3 + c) * S * S + i] = (px[i] / 255 - mean[c]) / std[c];
    }
    return { x: { type: 'float32' as const, dims: [pages, 3, S, S], data } };
  });
}

