/**
 * @internal A worker of the handler pool (handler-pool.ts): runs a model's
 * `preprocess` or `postprocess` from its `handler.mjs`, off the event loop. Each module is
 * imported once per worker and kept.
 */
import { pathToFileURL } from 'node:url';
import type { HandlerModule, HandlerTask } from './handler-pool';

const modules = new Map<string, Promise<HandlerModule>>();

/** The module of `file` as it was at `stamp` (its mtime when the model loaded): a reload with a changed handler imports it afresh. */
function load(file: string, stamp: number): Promise<HandlerModule> {
  const url = `${pathToFileURL(file).href}?loaded=${stamp}`;
  let module = modules.get(url);
  if (module === undefined) {
    module = import(url) as Promise<HandlerModule>;
    modules.set(url, module);
  }
  return module;
}

/** What an import failure's message starts with, for the server to tell it from the handler's own errors. */
export const LOAD_FAILED = 'the handler could not be loaded: ';

/** Piscina's entry: one task. */
export default async function run(task: HandlerTask): Promise<unknown> {
  let module: HandlerModule;
  try {
    module = await load(task.file, task.stamp);
  } catch (err) {
    modules.delete(`${pathToFileURL(task.file).href}?loaded=${task.stamp}`);
    throw new Error(`${LOAD_FAILED}${err instanceof Error ? err.message : String(err)}`);
  }
  const step = module[task.step];
  if (typeof step !== 'function') throw new Error(`${task.file} exports no ${task.step}() function`);
  return step(task.payload as never, task.context);
}
