/**
 * A version's model card: `<model>/<version>/model-card.json`, what the version is (what
 * it was trained on, how, how well it did, who owns it), served with the version's
 * metadata. Known fields are checked for their types so that a typo'd card fails its
 * load with the field's name rather than serving nonsense; other fields are kept as they
 * are (teams add their own).
 */
import { readFile, stat } from 'node:fs/promises';
import { invalid } from '../protocol/types';

/** A JSON value, as a model card holds them. */
export type CardValue = string | number | boolean | null | readonly CardValue[] | { readonly [key: string]: CardValue };

/** What a model card says of a version (every field optional; others are kept as given). */
export interface ModelCard {
  readonly [key: string]: CardValue | undefined;
  readonly description?: string;
  /** The training data: a name, a URL, a snapshot id. */
  readonly trained_on?: string;
  readonly algorithm?: string;
  /** Evaluation figures by name (`{ "accuracy": 0.93 }`). */
  readonly metrics?: { readonly [name: string]: number };
  readonly hyperparameters?: { readonly [name: string]: CardValue };
  readonly owner?: string;
  /** When the version was made, as an ISO 8601 date or time. */
  readonly created?: string;
}

/** The card's file name in a version folder. */
export const MODEL_CARD_FILE = 'model-card.json';

/** Most bytes of a card: real ones are a few kB. */
const MAX_CARD_BYTES = 256 * 1024;

const STRING_FIELDS = ['description', 'trained_on', 'algorithm', 'owner', 'created'] as const;

/**
 * The card at `path` (a file inside the repository, symlinks checked). Throws
 * INVALID_ARGUMENT, naming the file and field, for a card that is not a JSON object or
 * whose known fields have the wrong types.
 */
export async function readModelCard(path: string, where: string): Promise<ModelCard> {
  const { size } = await stat(path);
  if (size > MAX_CARD_BYTES) throw invalid(`${where}/${MODEL_CARD_FILE} is ${size} bytes; a model card may be at most ${MAX_CARD_BYTES}`);
  let card: unknown;
  try {
    card = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw invalid(`${where}/${MODEL_CARD_FILE} is not JSON: ${(err as Error).message}`);
  }
  return checkModelCard(card, `${where}/${MODEL_CARD_FILE}`);
}

/** `card` checked as a {@link ModelCard}; `where` names it in errors. */
export function checkModelCard(card: unknown, where: string): ModelCard {
  if (typeof card !== 'object' || card === null || Array.isArray(card)) throw invalid(`${where} must hold a JSON object`);
  const fields = card as Record<string, unknown>;
  for (const field of STRING_FIELDS) {
    if (fields[field] !== undefined && typeof fields[field] !== 'string') throw invalid(`${where}: "${field}" must be a string`);
  }
  if (fields.created !== undefined && Number.isNaN(Date.parse(fields.created as string))) {
    throw invalid(`${where}: "created" must be an ISO 8601 date or time, got ${JSON.stringify(fields.created)}`);
  }
  for (const field of ['metrics', 'hyperparameters'] as const) {
    const value = fields[field];
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) throw invalid(`${where}: "${field}" must be an object`);
  }
  for (const [name, value] of Object.entries((fields.metrics as Record<string, unknown> | undefined) ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${where}: metric "${name}" must be a finite number`);
  }
  return card as ModelCard;
}
