/**
 * The audit log: one JSON line per change of a model's lifecycle (a label set, a
 * rollback, a promotion, a restore at start), appended to a file, with when, who (the
 * credential the request used), what, and which versions. Appends are made one at a time
 * in order; a line is whole or absent.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One change, as the audit log records it. */
export interface AuditEntry {
  /** ISO 8601 time of the change. */
  readonly time: string;
  /** Who made it: `admin-token`, `no-auth` (a server without tokens), `startup`, `repository`. */
  readonly actor: string;
  /**
   * `label`, `unlabel`, `rollback`, `promote`, `follow-latest`, `traffic`, `traffic-cleared`,
   * `restore`; a rollout's `rollout-start`, `rollout-step`, `rollout-waiting`,
   * `rollout-window-failed`, `rollout-promoted`, `rollout-rolled-back`, `rollout-aborted`.
   */
  readonly action: string;
  readonly model: string;
  readonly version?: number;
  readonly from?: number;
  readonly label?: string;
  /** For `traffic`: the split, routes and shadow set. */
  readonly traffic?: unknown;
  /** For failures: why. */
  readonly error?: string;
  /** For a rollout's changes: its settings (at its start), its step's weight, or why it moved. */
  readonly rollout?: unknown;
  readonly weight?: number;
  readonly reason?: string;
}

/** An append-only file of {@link AuditEntry} lines. */
export class AuditLog {
  readonly path: string;
  #appending: Promise<void> = Promise.resolve();

  constructor(folder: string, name = 'audit.log') {
    this.path = join(folder, name);
  }

  /** Appends `entry` (its time is now). */
  append(entry: Omit<AuditEntry, 'time'>): Promise<void> {
    const line = JSON.stringify({ time: new Date().toISOString(), ...entry }) + '\n';
    const append = this.#appending.then(() => appendFile(this.path, line, { encoding: 'utf8', mode: 0o600 }));
    this.#appending = append.catch(() => undefined);
    return append;
  }

  /** The entries so far, oldest first (optionally of one model). */
  async entries(model?: string): Promise<AuditEntry[]> {
    await this.#appending;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const all = text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as AuditEntry);
    return model === undefined ? all : all.filter((e) => e.model === model);
  }
}
