import { Worker } from 'node:worker_threads';
import { type Learner, LearnResultSchema } from '../models/learned/learn.js';

/**
 * Each fit in a worker thread of its own, so that a large workspace's fit (seconds, see
 * LEARNED_MAX_STATEMENTS) does not stall the process's other jobs, its lock renewals,
 * its health endpoint or, under `npm start`, the bot's acknowledgements. A thread per
 * fit rather than a pool: starting one costs tens of milliseconds against fits of
 * hundreds, and its memory is returned when it ends.
 */
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
      const parsed = LearnResultSchema.safeParse(message);
      settle(() =>
        parsed.success
          ? resolve(parsed.data)
          : reject(new Error(`the learned model's thread sent ${parsed.error.message}`)),
      );
    });
    worker.once('error', (err) => settle(() => reject(err)));
    worker.once('exit', (code) =>
      settle(() => reject(new Error(`the learned model's thread exited with code ${code}`))),
    );
  });

function startWorker(workerData: unknown): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) {
    return new Worker(new URL('../models/learned/learn-worker.js', here), { workerData });
  }
  // Run from the sources (tsx, vitest): tsx's `--import` hooks do not reach worker
  // threads on Node 20, so the thread registers them itself before loading the entry.
  // tsx is resolved here, from the project, as an eval'd script resolves from the cwd.
  const entry = JSON.stringify(new URL('../models/learned/learn-worker.ts', here).href);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const boot = `import(${tsx}).then(({ register }) => { register(); return import(${entry}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * A learner that runs at most `threads` fits at once in this process; the rest wait
 * their turn (an aborted one leaves the queue). Each thread holds its own copy of the
 * matrix and of the text tools (~100 MiB more at 1,000 statements in `npm run bench`), so
 * a worker running many scorings at once must not start a fit for each.
 */
export function threadLearner(threads: number, learn: Learner = learnInThread): Learner {
  let running = 0;
  /** Fits waiting for a thread; each is handed its slot by a fit that ends. */
  const waiting: (() => void)[] = [];
  return async (request, signal) => {
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
  };
}
