import { z } from 'zod';
import { PollScaleSchema } from './poll-scale.js';

/** A posted statement that members rate. A round has one poll per version. */
export const PollSchema = z.object({
  roundId: z.string().min(1),
  version: z.number().int().min(1),
  candidateId: z.string().min(1),
  statement: z.string().min(1),
  scale: PollScaleSchema,
  openedAt: z.number().int(),
  closedAt: z.number().int().nullable(),
  /** Predicted approval per participant for the posted statement. */
  predicted: z.record(z.string(), z.number().min(0).max(1).nullable()),
  welfare: z.number().nullable(),
  /** How the statement was chosen, in one sentence, for the poll message. */
  method: z.string(),
  /** The seed the selection broke ties with, so the poll's list of candidates shows the same order. */
  selectionSeed: z.number().int().min(0).optional(),
});
export type Poll = z.infer<typeof PollSchema>;

export const RatingSchema = z.object({
  participantId: z.string().min(1),
  optionKey: z.string().min(1),
  approval: z.number().min(0).max(1),
  at: z.number().int(),
});
export type Rating = z.infer<typeof RatingSchema>;

export const CritiqueSchema = z.object({
  participantId: z.string().min(1),
  text: z.string().min(1),
  truncated: z.boolean(),
  originalLength: z.number().int().min(0),
});
export type Critique = z.infer<typeof CritiqueSchema>;
