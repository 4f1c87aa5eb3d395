/**
 * Triton's POLL model control, without its hazard. Triton rescans the repository every
 * `--repository-poll-secs` and reloads what changed, and warns that it may load files
 * still being copied. Here a model is loaded, reloaded or unloaded only once what is on
 * disk for it has stopped changing: the same fingerprint of its files (names, sizes,
 * times, inodes) on scans far enough apart. File events (fs.watch) make scans come
 * sooner; they never make a load come sooner than that.
 */
import { type FSWatcher, type Stats, watch } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Logger } from 'pino';
import { inside, listModelNames, repositoryRoot } from './repository-files';

/** Options of {@link RepositoryWatcher.start}. */
export interface RepositoryWatcherOptions {
  /** Scan period in milliseconds (Triton's `--repository-poll-secs` × 1000). */
  readonly intervalMs: number;
  /** Where log lines go (one per load or unload the watcher starts, and per failed load). */
  readonly log: Logger;
  /** fs.watch on the root and the model folders, to scan sooner than the next period (debounced). Default true. */
  readonly fileEvents?: boolean;
}

/** What the watcher needs of the repository (`ModelRepository` has all of it). */
export interface WatchedRepository {
  /** The repository's folder. */
  readonly root: string;
  /** Loads model `name`, or reloads it (new versions first, old ones retired after). */
  load(name: string): Promise<void>;
  /** Unloads model `name`. */
  unload(name: string): Promise<void>;
  /** The names of the models loaded now. */
  loadedNames(): string[];
}

/**
 * With file events: how long (at most) a changed model's files must stay the same before
 * it is acted on, where the scan period is longer. File events alone cannot tell that a
 * copy has finished (writes inside a version folder raise none on the folders watched),
 * so this is the quiet time that stands for "finished".
 */
export const EVENT_SETTLE_MS = 1000;

/** File events within this long of each other share one scan. */
const DEBOUNCE_MS = 100;

/**
 * How early a scan may come against the settle time and still count: timers fire by
 * libuv's whole milliseconds, so a periodic scan can land a hair before a full period
 * after the last, and should not cost another period for it.
 */
const TIMER_SLACK_MS = 5;

/** Node's longest timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The fingerprint of a model folder that is not there. Real fingerprints never equal it. */
const GONE = '(gone)';

/** What a model loaded before the watcher started, whose folder is not there, was loaded from. */
const UNKNOWN = '(unknown)';

/** A model folder as one scan found it. */
interface Found {
  readonly fingerprint: string;
  /** The folder, symlinks resolved (what is watched). */
  readonly path: string;
  /** The folder's inode: a folder replaced whole under the same name needs a new watcher. */
  readonly ino: number;
}

/** What the watcher knows of one model. */
interface Tracked {
  /** The fingerprint last acted on: loaded (or failed to load) from; GONE for none yet. */
  settled: string;
  /** A fingerprint other than `settled`, seen by every scan since `since`. */
  pending?: { readonly fingerprint: string; readonly since: number };
}

/**
 * Watches a model repository and keeps what is loaded in step with what is on disk: a new
 * model folder is loaded, a removed one unloaded, a changed one reloaded, each only once
 * its files have stopped changing.
 *
 * The stability rule: a model whose fingerprint differs from the one last acted on is
 * acted on only when a scan sees the same fingerprint that a scan at least the settle
 * time earlier first saw, every scan in between having seen it too. Without it a scan
 * that lands while `model.onnx` is being copied would load the half that is there: at
 * best a failed load, at worst a truncated model that happens to parse. The settle time
 * is `intervalMs`, or with file events the shorter of `intervalMs` and
 * {@link EVENT_SETTLE_MS}. A file event only brings the next scan forward: that scan
 * counts like any other, so an event right after a scan cannot stand in for the second
 * sighting, and a scan that sees a change still pending schedules the next one at the
 * settle time.
 */
export class RepositoryWatcher {
  readonly #repository: WatchedRepository;
  readonly #root: string;
  readonly #log: Logger;
  readonly #settleMs: number;
  readonly #fileEvents: boolean;
  readonly #tracked = new Map<string, Tracked>();
  /** fs.watch watchers by model name ('' for the root, which no model is named). */
  readonly #watchers = new Map<string, { readonly id: string; readonly watcher: FSWatcher }>();
  #timer: NodeJS.Timeout | undefined;
  /** A scan brought forward (by a file event or a pending change), and when it is due. */
  #soon: { readonly timer: NodeJS.Timeout; readonly due: number } | undefined;
  /** The scan running now. */
  #current: Promise<void> | undefined;
  /** The scan asked for while one runs: every ask in the meantime shares it. */
  #next: Promise<void> | undefined;
  #closed = false;
  /** Whether the last scan could not read the root (logged once until one can). */
  #rootFailed = false;

  private constructor(repository: WatchedRepository, root: string, options: RepositoryWatcherOptions) {
    this.#repository = repository;
    this.#root = root;
    this.#log = options.log;
    this.#fileEvents = options.fileEvents ?? true;
    this.#settleMs = this.#fileEvents ? Math.min(options.intervalMs, EVENT_SETTLE_MS) : options.intervalMs;
  }

  /**
   * Takes a first snapshot of the repository's model folders and starts watching it. The
   * models loaded now are taken as loaded from what is on disk now; a model folder that
   * is not loaded (its load failed at start, or it was not asked for) is handled as a new
   * one: loaded once its files have stayed the same for the settle time. Throws if the
   * repository's folder is missing.
   */
  static async start(repository: WatchedRepository, options: RepositoryWatcherOptions): Promise<RepositoryWatcher> {
    const { intervalMs } = options;
    if (!Number.isFinite(intervalMs) || intervalMs < 1 || intervalMs > MAX_TIMER_MS) {
      throw new RangeError(`the repository poll interval must be 1 to ${MAX_TIMER_MS} ms; got ${intervalMs}`);
    }
    const watcher = new RepositoryWatcher(repository, await repositoryRoot(repository.root), options);
    const started = performance.now();
    const found = await watcher.#snapshot();
    const loaded = new Set(repository.loadedNames());
    for (const [name, { fingerprint }] of found) {
      watcher.#tracked.set(name, loaded.has(name) ? { settled: fingerprint } : { settled: GONE, pending: { fingerprint, since: started } });
    }
    for (const name of loaded) if (!found.has(name)) watcher.#tracked.set(name, { settled: UNKNOWN });
    if (watcher.#fileEvents) watcher.#watch(found);
    watcher.#timer = setInterval(() => void watcher.scan(), intervalMs).unref();
    watcher.#followUp();
    return watcher;
  }

  /** Scans once now (what the timer does); resolves when the loads/unloads it started have settled. Exposed for tests. */
  scan(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    // Scans never overlap: one asked for during another runs after it, on what is on disk then.
    this.#next ??= (this.#current ?? Promise.resolve()).then(() => {
      this.#next = undefined;
      if (this.#closed) return undefined;
      const current: Promise<void> = this.#scanOnce().finally(() => {
        if (this.#current === current) this.#current = undefined;
      });
      this.#current = current;
      return current;
    });
    return this.#next;
  }

  /** Stops the timer and the fs watchers, and waits for a scan in progress (and the load it is waiting on). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#soon !== undefined) clearTimeout(this.#soon.timer);
    this.#soon = undefined;
    for (const { watcher } of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    await (this.#next ?? this.#current);
  }

  /** One scan; never rejects (it runs from timers). */
  async #scanOnce(): Promise<void> {
    const now = performance.now();
    let found: Map<string, Found>;
    try {
      found = await this.#snapshot();
    } catch (err) {
      // The root gone, unreadable, or a folder removed mid-listing: nothing counts as gone
      // on a scan that could not look.
      if (!this.#rootFailed) this.#log.warn({ root: this.#root, err: message(err) }, 'model repository could not be scanned');
      this.#rootFailed = true;
      return;
    }
    this.#rootFailed = false;
    if (this.#fileEvents && !this.#closed) this.#watch(found);
    const names = [...new Set([...this.#tracked.keys(), ...found.keys()])].sort();
    for (const name of names) {
      if (this.#closed) break;
      const fingerprint = found.get(name)?.fingerprint ?? GONE;
      const tracked = this.#tracked.get(name) ?? { settled: GONE };
      if (fingerprint === tracked.settled) {
        // Back to what was acted on (a folder that came and went, a file put back): nothing to do.
        if (fingerprint === GONE) this.#tracked.delete(name);
        else tracked.pending = undefined;
        continue;
      }
      this.#tracked.set(name, tracked);
      if (tracked.pending?.fingerprint !== fingerprint) {
        tracked.pending = { fingerprint, since: now };
        continue;
      }
      if (now - tracked.pending.since + TIMER_SLACK_MS < this.#settleMs) continue;
      await this.#act(name, tracked, fingerprint);
    }
    this.#followUp();
  }

  /** Loads or unloads `name`, whose files have settled on `fingerprint`. */
  async #act(name: string, tracked: Tracked, fingerprint: string): Promise<void> {
    // The loads before this one in the scan may have taken long: what was stable when the
    // scan looked may be being copied over now.
    const now = performance.now();
    const again = (await this.#fingerprint(name))?.fingerprint ?? GONE;
    if (again !== fingerprint) {
      tracked.pending = { fingerprint: again, since: now };
      return;
    }
    tracked.pending = undefined;
    tracked.settled = fingerprint;
    if (fingerprint === GONE) {
      this.#tracked.delete(name);
      try {
        await this.#repository.unload(name);
        this.#log.info({ model: name }, 'model folder removed: model unloaded');
      } catch (err) {
        this.#log.error({ model: name, err: message(err) }, 'model folder removed, but the model failed to unload');
      }
      return;
    }
    try {
      await this.#repository.load(name);
      this.#log.info({ model: name }, 'model files changed: model loaded');
    } catch {
      // The repository has logged why; `settled` keeps it from being tried again on the
      // same files, so this is said once per fingerprint.
      this.#log.warn({ model: name }, 'model files changed but the model failed to load; it is tried again once its files change');
    }
  }

  /** With file events, a scan at the settle time of the earliest change still pending. */
  #followUp(): void {
    if (!this.#fileEvents || this.#closed) return;
    let due = Infinity;
    for (const { pending } of this.#tracked.values()) if (pending !== undefined) due = Math.min(due, pending.since + this.#settleMs);
    if (due !== Infinity) this.#scanSoon(due - performance.now());
  }

  /** Scans in `delayMs`, unless a scan is due sooner already. */
  #scanSoon(delayMs: number): void {
    if (this.#closed) return;
    const due = performance.now() + delayMs;
    if (this.#soon !== undefined) {
      if (this.#soon.due <= due) return;
      clearTimeout(this.#soon.timer);
    }
    const timer = setTimeout(
      () => {
        this.#soon = undefined;
        void this.scan();
      },
      Math.max(0, delayMs),
    ).unref();
    this.#soon = { timer, due };
  }

  /** Watches the root and the model folders of `found`; closes the watchers of folders gone or moved. */
  #watch(found: ReadonlyMap<string, Found>): void {
    // Watchers follow inodes, so a folder is known by its path and inode.
    const wanted = new Map<string, { readonly path: string; readonly id: string }>([['', { path: this.#root, id: this.#root }]]);
    for (const [name, { path, ino }] of found) wanted.set(name, { path, id: `${path}\n${ino}` });
    for (const [key, held] of this.#watchers) {
      if (wanted.get(key)?.id !== held.id) {
        held.watcher.close();
        this.#watchers.delete(key);
      }
    }
    for (const [key, { path, id }] of wanted) {
      if (this.#watchers.has(key)) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(path, { persistent: false }, () => this.#scanSoon(DEBOUNCE_MS));
      } catch {
        // Gone since the scan looked, or out of inotify watches: the periodic scans still see it.
        continue;
      }
      // A watched folder removed: the watcher is done; a folder back later is watched anew.
      watcher.on('error', () => {
        watcher.close();
        if (this.#watchers.get(key)?.watcher === watcher) this.#watchers.delete(key);
      });
      this.#watchers.set(key, { id, watcher });
    }
  }

  /** Every model folder in the repository now, with its fingerprint. */
  async #snapshot(): Promise<Map<string, Found>> {
    const found = new Map<string, Found>();
    for (const name of await listModelNames(this.#root)) {
      const one = await this.#fingerprint(name);
      if (one !== undefined) found.set(name, one);
    }
    return found;
  }

  /** Model folder `name`'s fingerprint, or undefined if it is not there (or leaves the repository). */
  async #fingerprint(name: string): Promise<Found | undefined> {
    const path = await inside(this.#root, join(this.#root, name));
    if (path === undefined) return undefined;
    let info: Stats;
    try {
      info = await stat(path);
    } catch {
      return undefined;
    }
    if (!info.isDirectory()) return undefined;
    // The folder's own inode: one replaced whole (`mv`, a symlink switched) is a change
    // even where its files look the same.
    const lines = [`. ${info.ino}`];
    await describeTree(this.#root, path, '', lines, new Set([path]));
    return { fingerprint: lines.join('\n'), path, ino: info.ino };
  }
}

/**
 * Adds a line per entry under `dir` (recursively) to `lines`. Entries are lstat'ed; a
 * symlink's target is stat'ed (and walked, if a folder) only where it resolves inside
 * `root`. Hidden files count: a copy in progress often writes to one and renames it last
 * (rsync's `.model.onnx.XXXXXX`), and counting it keeps the model changing until then.
 * `visited` (real folders walked) keeps symlink loops from looping.
 */
async function describeTree(root: string, dir: string, prefix: string, lines: string[], visited: Set<string>): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    lines.push(`${JSON.stringify(prefix)} ! ${code(err)}`);
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    const shown = JSON.stringify(prefix + name);
    let info: Stats;
    try {
      info = await lstat(path);
    } catch (err) {
      // Removed since the listing: the next scan's listing will not have it either.
      if (code(err) !== 'ENOENT') lines.push(`${shown} ! ${code(err)}`);
      continue;
    }
    let real = path;
    if (info.isSymbolicLink()) {
      const target = await inside(root, path);
      if (target === undefined) {
        // Not followed; the repository refuses it. Its own inode and time still count.
        lines.push(`${shown} -> outside ${describeEntry(info)}`);
        continue;
      }
      try {
        info = await stat(target);
      } catch (err) {
        lines.push(`${shown} -> ! ${code(err)}`);
        continue;
      }
      real = target;
      lines.push(`${shown} -> ${JSON.stringify(relative(root, target))} ${describeEntry(info)}`);
    } else {
      lines.push(`${shown} ${describeEntry(info)}`);
    }
    if (info.isDirectory() && !visited.has(real)) {
      visited.add(real);
      await describeTree(root, real, `${prefix}${name}/`, lines, visited);
    }
  }
}

/**
 * An entry's kind, inode and, for a file, size and times. A folder's times are left out:
 * they change with every entry added or removed, and its entries are listed anyway.
 */
function describeEntry(info: Stats): string {
  if (info.isDirectory()) return `d ${info.ino}`;
  const kind = info.isFile() ? 'f' : info.isSymbolicLink() ? 'l' : 'o';
  // ctime as well as mtime: `cp -p` and `rsync -t` set mtime back to the source's.
  return `${kind} ${info.ino} ${info.size} ${info.mtimeMs} ${info.ctimeMs}`;
}

function code(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : message(err);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
