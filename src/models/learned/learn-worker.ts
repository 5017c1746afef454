import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../../domain/errors.js';
import { LearnRequestSchema, learnNow } from './learn.js';

/**
 * A worker thread's entry (src/app/learn-thread.ts): one fit, its result posted back, or
 * the error's message: an error crossing threads loses what is not an own property (a
 * ZodError's message is computed), and the job's log needs the reason.
 */
try {
  parentPort?.postMessage({ result: learnNow(LearnRequestSchema.parse(workerData)) });
} catch (err) {
  parentPort?.postMessage({ error: errorMessage(err) });
}
