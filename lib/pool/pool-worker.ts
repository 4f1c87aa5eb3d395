/**
 * @internal The entry of an InferencePool's worker threads: attaches to the shared
 * session, loads the user's module, and runs preprocess, inference and postprocess for
 * each task.
 */
import { threadId } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { type CrossThreadError, ORT_ERROR, OrtError } from '../core/errors';
import type { PoolModelInfo, PoolModule } from './pool';
import { attachSession, type Session } from '../runtime/session';
import type { Feeds } from '../core/signature';

interface Setup {
  session: Session;
  module: PoolModule;
  model: PoolModelInfo;
}

let setup: Promise<Setup> | undefined;

async function load(): Promise<Setup> {
  const { module: url, sessions } = Piscina.workerData as { module: string; sessions: number[] };
  // Instances are shared out among workers round-robin.
  const session = attachSession(sessions[threadId % sessions.length]);
  const loaded = (await import(url)) as PoolModule & { default?: PoolModule };
  const module = typeof loaded.preprocess === 'function' ? loaded : loaded.default;
  if (!module || typeof module.preprocess !== 'function') {
    throw new OrtError(`${url} exports no preprocess() function`, 'INVALID_OPTION');
  }
  return { session, module, model: { inputs: session.inputs, outputs: session.outputs, sessionId: session.share() } };
}

/** One task: preprocess, run, postprocess. */
export default async function task(input: unknown): Promise<unknown> {
  try {
    const { session, module, model } = await (setup ??= load());
    const feeds = await module.preprocess(input, model);
    const outputs = await session.run(feeds as Feeds<never>);
    return module.postprocess ? await module.postprocess(outputs, input, model) : outputs;
  } catch (err) {
    // Errors cross threads as structured clones, which keep no `code`: send an
    // OrtError's fields as they are, for the pool to rebuild it.
    if (err instanceof OrtError) throw { [ORT_ERROR]: true, message: err.message, code: err.code, ortCode: err.ortCode } satisfies CrossThreadError;
    throw err;
  }
}
