import { z } from 'zod';
import { fitLearnedModel, LearnedInputSchema } from './model.js';

/**
 * One fit of the learned model and what a round's scoring reads off it: the predicted
 * approval of each member for each statement, and each member's learned opinion group.
 * Plain data in and out, so that a fit can run off the event loop (src/app/learn-thread.ts).
 */

export const LearnRequestSchema = z.object({
  input: LearnedInputSchema,
  /** Members and statements to predict; every one must be in `input`. */
  members: z.array(z.string().min(1)),
  statements: z.array(z.string().min(1)),
});
export type LearnRequest = z.infer<typeof LearnRequestSchema>;

export const LearnResultSchema = z.object({
  /** approvals[statement][member], in [0, 1]. */
  approvals: z.array(z.array(z.number().min(0).max(1))),
  /** Per member, their learned opinion group (0..n-1), or -1 when in none. */
  groups: z.array(z.number().int().min(-1)),
});
export type LearnResult = z.infer<typeof LearnResultSchema>;

/** Fits and predicts; the promise settles when the fit is done (or the signal aborts it). */
export type Learner = (request: LearnRequest, signal?: AbortSignal) => Promise<LearnResult>;

/** The fit itself, synchronous: the whole of it blocks whatever thread runs it. */
export function learnNow(request: LearnRequest): LearnResult {
  const model = fitLearnedModel(request.input);
  return {
    approvals: model.predictMatrix(request.members, request.statements),
    groups: request.members.map((m) => model.groupOf(m)),
  };
}

/** In this thread: for tests and tools; a service's workers fit in a worker thread. */
export const learnInProcess: Learner = async (request, signal) => {
  signal?.throwIfAborted();
  return learnNow(request);
};
