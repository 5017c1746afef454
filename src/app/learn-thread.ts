import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { type Learner, LearnResultSchema } from '../models/learned/learn.js';

/**
 * Each fit in a worker thread of its own, so that a large workspace's fit (seconds, see
 * LEARNED_MAX_STATEMENTS) does not stall the process's other jobs, its lock renewals,
 * its health endpoint or, under `npm start`, the bot's acknowledgements. A thread per
 * fit rather than a pool: starting one costs about 0.2 s from dist/ (0.5 s from the
 * sources) against fits of up to seconds, and its memory is returned when it ends.
 */

/**
 * The thread's own heap limit. A fit's big arrays are typed arrays, outside this heap;
 * without a limit the thread would get one as large as the process's, doubling what a
 * worker sized by --max-old-space-size may use. A fit that needs more fails, and the
 * round is scored without the learned model (blended-reward-model.ts).
 */
export const THREAD_HEAP_MB = 256;

const ThreadMessageSchema = z.union([
  z.object({ result: LearnResultSchema }),
  z.object({ error: z.string() }),
]);

export const learnInThread: Learner = (request, signal) =>
  // Inside the executor, so that an aborted signal or a thread that cannot start rejects.
  new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const worker = startWorker(request);
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      finish();
    };
    const onAbort = () => {
      settle(() => reject(signal?.reason));
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (message: unknown) => {
      const parsed = ThreadMessageSchema.safeParse(message);
      settle(() => {
        if (!parsed.success) {
          reject(new Error(`the learned model's thread sent ${parsed.error.message}`));
        } else if ('error' in parsed.data) {
          reject(new Error(`the learned model's fit failed: ${parsed.data.error}`));
        } else resolve(parsed.data.result);
      });
    });
    worker.once('error', (err) => settle(() => reject(err)));
    worker.once('exit', (code) =>
      settle(() => reject(new Error(`the learned model's thread exited with code ${code}`))),
    );
  });

function startWorker(workerData: unknown): Worker {
  const here = import.meta.url;
  const resourceLimits = { maxOldGenerationSizeMb: THREAD_HEAP_MB };
  if (!here.endsWith('.ts')) {
    return new Worker(new URL('../models/learned/learn-worker.js', here), {
      workerData,
      resourceLimits,
    });
  }
  // Run from the sources (tsx, vitest): tsx's `--import` hooks do not reach worker
  // threads on Node 20, so the thread registers them itself before loading the entry.
  // tsx is resolved here, from the project, as an eval'd script resolves from the cwd.
  const entry = JSON.stringify(new URL('../models/learned/learn-worker.ts', here).href);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const boot = `import(${tsx}).then(({ register }) => { register(); return import(${entry}); })`;
  return new Worker(boot, { eval: true, workerData, resourceLimits });
}

/**
 * A learner that runs at most `threads` fits at once in this process; the rest wait
 * their turn (an aborted one leaves the queue). Each thread holds its own copy of the
 * matrix and of the text tools (~100 MiB more at 1,000 statements in `npm run bench`), so
 * a worker running many scorings at once must not start a fit for each. `stop` (the
 * process shutting down) ends every fit, running or waiting, as a call's own signal does.
 */
export function threadLearner(options: {
  threads: number;
  stop?: AbortSignal;
  /**
   * LEARNED_FIT_TIMEOUT_MS: longest one fit may take, its wait for a thread included
   * (0 = no limit). A fit that takes longer is ended, and its round is scored without it,
   * so one very large workspace cannot hold the thread from every other for minutes.
   */
  timeoutMs?: number;
  learn?: Learner;
}): Learner {
  const { threads, stop, timeoutMs = 0, learn = learnInThread } = options;
  let running = 0;
  /** Fits waiting for a thread; each is handed its slot by a fit that ends. */
  const waiting: (() => void)[] = [];
  return async (request, own) => {
    const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [own, stop, timeout].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    try {
      return await learnInTurn(request, signal);
    } catch (error) {
      if (timeout?.aborted && !own?.aborted && !stop?.aborted) {
        throw new Error(
          `the learned model's fit took longer than LEARNED_FIT_TIMEOUT_MS (${timeoutMs} ms)`,
        );
      }
      throw error;
    }
  };

  async function learnInTurn(
    request: Parameters<Learner>[0],
    signal: AbortSignal | undefined,
  ): ReturnType<Learner> {
    if (running < threads) running += 1;
    else {
      await new Promise<void>((start, reject) => {
        signal?.throwIfAborted();
        const go = () => {
          signal?.removeEventListener('abort', leave);
          start();
        };
        const leave = () => {
          waiting.splice(waiting.indexOf(go), 1);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', leave, { once: true });
        waiting.push(go);
      });
    }
    try {
      return await learn(request, signal);
    } finally {
      const handOff = waiting.shift();
      if (handOff) handOff();
      else running -= 1;
    }
  }
}
