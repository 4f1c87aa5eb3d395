/**
 * `onnx-native rollout ACTION MODEL`: the lifecycle API of a running server, from the
 * command line (an HTTP client of lifecycle-routes.ts). Prints what the server answers,
 * for people; exits 1 with the server's message when it refuses.
 */
import { readFileSync } from 'node:fs';
import type { ModelLifecycle } from '../lifecycle/lifecycle-routes';
import type { RolloutStatus } from '../lifecycle/progressive-rollout';
import type { LifecycleStatus } from '../lifecycle/version-control';

/** What the command was asked. */
export interface RolloutArgs {
  readonly action: string;
  readonly model: string;
  /** The action's own arguments (a version; a label and a version). */
  readonly rest: readonly string[];
  /** The server's HTTP address. */
  readonly url: string;
  /** A file holding the admin bearer token. */
  readonly tokenFile?: string;
  /** For `traffic`: its flags (split, sticky, route, shadow, clear). */
  readonly traffic?: { readonly split?: string; readonly sticky?: string; readonly routes?: readonly string[]; readonly shadow?: string; readonly clear?: boolean };
  /** For `start`: its flags by name (`steps`, `interval`, `p99-ms`, ...; see {@link START_FLAGS}). */
  readonly start?: Readonly<Record<string, string | undefined>>;
}

/** `rollout start`'s flags, and the API's fields they set. */
export const START_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  baseline: 'baseline',
  steps: 'steps',
  interval: 'interval_s',
  'min-requests': 'min_requests',
  'success-rate': 'min_success_rate',
  'p99-ms': 'max_p99_ms',
  'p99-ratio': 'max_p99_ratio',
  'shadow-share': 'shadow_share',
  'shadow-agreement': 'min_shadow_agreement',
  'rollback-after': 'rollback_after',
  sticky: 'sticky_key',
});

/** `text` as a number (digits, a point, digits), or the error `message(text)` says. */
function numberFlag(text: string, message: (quoted: string) => string, usage: (message: string) => Error): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text)) throw usage(message(JSON.stringify(text)));
  return Number(text);
}

/** `start`'s flags as the API's body (the server checks their values). */
function startBody(candidate: number, flags: Readonly<Record<string, string | undefined>>, usage: (message: string) => Error): Record<string, unknown> {
  const body: Record<string, unknown> = { candidate };
  const number = (text: string, what: string) => numberFlag(text, (quoted) => `--${what} takes a number, got ${quoted}`, usage);
  for (const [name, field] of Object.entries(START_FLAGS)) {
    const text = flags[name];
    if (text === undefined) continue;
    if (name === 'steps') body.steps = text.split(',').map((s) => number(s.replace(/%$/, ''), name));
    else if (name === 'sticky') body.sticky_key = text;
    else if (name === 'p99-ms' && text === 'off') body.max_p99_ms = null;
    else body[field] = number(text, name);
  }
  return body;
}

/** `traffic`'s flags as the API's body: `--split 1=90,2=10 --sticky x-user-id --route x-group=beta:2 --shadow 3:0.1`. */
function trafficBody(flags: NonNullable<RolloutArgs['traffic']>, usage: (message: string) => Error): Record<string, unknown> {
  const number = (text: string, what: string) => numberFlag(text, (quoted) => `${what} must be a number, got ${quoted}`, usage);
  const split = flags.split?.split(',').map((part) => {
    const [version, weight] = part.split('=');
    if (weight === undefined) throw usage(`--split takes VERSION=WEIGHT,..., got ${JSON.stringify(flags.split)}`);
    return { version: number(version, 'a version'), weight: number(weight, 'a weight') };
  });
  const routes = flags.routes?.map((route) => {
    const m = /^([^=]+)=(.*):([0-9]+)$/.exec(route);
    if (!m) throw usage(`--route takes KEY=VALUE:VERSION, got ${JSON.stringify(route)}`);
    return { key: m[1], value: m[2], version: Number(m[3]) };
  });
  let shadow: { version: number; share: number } | undefined;
  if (flags.shadow !== undefined) {
    const [version, share] = flags.shadow.split(':');
    if (share === undefined) throw usage(`--shadow takes VERSION:SHARE, got ${JSON.stringify(flags.shadow)}`);
    shadow = { version: number(version, 'a version'), share: number(share, 'a share') };
  }
  return { ...(split && { split }), ...(flags.sticky !== undefined && { sticky_key: flags.sticky }), ...(routes && { routes }), ...(shadow && { shadow }) };
}

function describeTraffic(t: NonNullable<LifecycleStatus['traffic']>): string {
  const total = (t.split ?? []).reduce((n, s) => n + s.weight, 0);
  return [
    ...(t.routes ?? []).map((r) => `${r.key}=${r.value} -> ${r.version}`),
    ...(t.split ? [`split ${t.split.map((s) => `${s.version}: ${((100 * s.weight) / total).toFixed(1)}%`).join(', ')}${t.sticky_key ? ` (sticky on ${t.sticky_key})` : ''}`] : []),
    ...(t.shadow ? [`shadow ${t.shadow.version} (${(100 * t.shadow.share).toFixed(1)}% copied)`] : []),
  ].join('; ');
}

const percent = (x: number | undefined) => (x === undefined ? 'none' : `${(100 * x).toFixed(2)}%`);

function describeRollout(r: RolloutStatus): string[] {
  const steps = r.spec.steps as number[];
  const lines = [
    `  rollout of version ${String(r.spec.candidate)} from ${String(r.spec.baseline)}: ${r.phase.replace('_', ' ')}${r.reason ? ` (${r.reason})` : ''}`,
    `    step ${r.step + 1} of ${steps.length} (${steps.join('%, ')}%): ${r.weight}% of the traffic; windows passed ${r.windows_passed}, failed ${r.windows_failed}; started ${r.started_at} by ${r.actor}${r.ended_at ? `, ended ${r.ended_at}` : ''}`,
  ];
  if (r.last_window) lines.push(`    last window (${r.last_window.time}): ${r.last_window.outcome}: ${r.last_window.reason}`);
  const c = r.current_window?.candidate;
  if (c) lines.push(`    this window so far: ${c.requests} requests, success ${percent(c.successRate)}, p99 ${c.p99Ms === undefined ? 'none' : `${c.p99Ms.toFixed(1)} ms`}${c.shadowCompared > 0 ? `, shadow agreement ${percent(c.shadowAgreement)} of ${c.shadowCompared}` : ''}`);
  return lines;
}

function describe(status: ModelLifecycle): string {
  const lines = [
    `model ${status.model}: default version ${status.default_version ?? 'none ready'}${status.pinned_version !== undefined ? ' (pinned)' : ' (the latest ready)'}`,
    `  labels: ${Object.entries(status.labels).map(([l, v]) => `${l} -> ${v}`).join(', ') || 'none'}`,
    `  traffic: ${status.traffic === undefined ? 'all to the default' : describeTraffic(status.traffic)}`,
    `  served as default, latest last: ${status.history.join(', ') || 'none yet'}`,
    ...(status.rollout === undefined ? [] : describeRollout(status.rollout)),
  ];
  for (const v of status.versions) {
    lines.push(`  version ${v.version}: ${v.state}${v.reason ? ` (${v.reason})` : ''}`);
    const card = v.model_card;
    if (card !== undefined) {
      for (const [key, value] of Object.entries(card)) lines.push(`    ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  return lines.join('\n');
}

/** Runs the command; resolves with the exit code. `usage` makes the error for a bad command line. */
export async function rollout(args: RolloutArgs, usage: (message: string) => Error): Promise<number> {
  const base = `${args.url.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(args.model)}`;
  const version = (text: string | undefined) => {
    if (text === undefined || !/^[0-9]+$/.test(text)) throw usage(`a version is a whole number, got ${JSON.stringify(text)}`);
    return Number(text);
  };
  let request: { method: string; path: string; body?: unknown };
  switch (args.action) {
    case 'status':
      request = { method: 'GET', path: '/lifecycle' };
      break;
    case 'rollback':
      request = { method: 'POST', path: '/rollback', body: {} };
      break;
    case 'promote':
      request = { method: 'POST', path: '/promote', body: args.rest[0] === undefined ? {} : { version: version(args.rest[0]) } };
      break;
    case 'label':
      if (args.rest[0] === undefined) throw usage('rollout label needs MODEL LABEL VERSION');
      request = { method: 'PUT', path: `/labels/${encodeURIComponent(args.rest[0])}`, body: { version: version(args.rest[1]) } };
      break;
    case 'traffic':
      request = args.traffic?.clear === true ? { method: 'DELETE', path: '/traffic' } : { method: 'PUT', path: '/traffic', body: trafficBody(args.traffic ?? {}, usage) };
      break;
    case 'start':
      request = { method: 'POST', path: '/rollout', body: startBody(version(args.rest[0]), args.start ?? {}, usage) };
      break;
    case 'abort':
      request = { method: 'DELETE', path: '/rollout' };
      break;
    case 'unlabel':
      if (args.rest[0] === undefined) throw usage('rollout unlabel needs MODEL LABEL');
      request = { method: 'DELETE', path: `/labels/${encodeURIComponent(args.rest[0])}` };
      break;
    default:
      throw usage(`unknown rollout action '${args.action}' (status, start, abort, rollback, promote, label, unlabel, traffic)`);
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (args.tokenFile !== undefined) headers.authorization = `Bearer ${readFileSync(args.tokenFile, 'utf8').trim()}`;
  let response: Response;
  try {
    response = await fetch(base + request.path, { method: request.method, headers, ...(request.body !== undefined && { body: JSON.stringify(request.body) }) });
  } catch (err) {
    console.error(`onnx-native: cannot reach the server at ${args.url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
    return 1;
  }
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    console.error(`onnx-native: the server refused (${response.status}): ${String(answer.error ?? response.statusText)}`);
    return 1;
  }
  if (args.action === 'rollback') console.log(`model ${args.model}: rolled back from version ${String(answer.from ?? 'none')} to ${String(answer.to)}`);
  if (args.action === 'start' || args.action === 'abort') {
    console.log(`model ${args.model}:\n${describeRollout(answer as unknown as RolloutStatus).join('\n')}`);
    return 0;
  }
  const status = (args.action === 'rollback' ? answer.status : answer) as ModelLifecycle;
  console.log(describe(status));
  return 0;
}
