import { parentPort, workerData } from 'node:worker_threads';
import { LearnRequestSchema, learnNow } from './learn.js';

/** A worker thread's entry (src/app/learn-thread.ts): one fit, its result posted back. */
parentPort?.postMessage(learnNow(LearnRequestSchema.parse(workerData)));
