import { z } from 'zod';
import { KeySafeIdSchema, ScopeSchema } from '../domain/scope.js';

/** Every job names its round; stages read the rest from the store, never from the payload. */
const RoundJobSchema = z.object({
  scope: ScopeSchema,
  roundId: KeySafeIdSchema,
  /** Statement version this run produces: 1 for the first poll, +1 per revision. */
  version: z.number().int().min(1),
  /** Pipeline attempt of the round (a moderator's retry after failure starts a new one). */
  attempt: z.number().int().min(1),
});

export const GenerateJobSchema = RoundJobSchema;
export const ScoreJobSchema = RoundJobSchema;
export const SelectJobSchema = RoundJobSchema;
export type StageJob = z.infer<typeof RoundJobSchema>;

export const PublishKindSchema = z.enum([
  'question',
  'progress',
  'statement',
  'critique-invite',
  'results',
  'notice',
  // A nudge to members who gave an opinion but have not rated (`--remind-minutes`).
  'reminder',
]);
export type PublishKind = z.infer<typeof PublishKindSchema>;

export const PublishJobSchema = z.object({
  scope: ScopeSchema,
  roundId: KeySafeIdSchema,
  kind: PublishKindSchema,
  version: z.number().int().min(0),
  /** Free text for notices (already safe to show). */
  text: z.string().max(4_000).nullable(),
});
export type PublishJob = z.infer<typeof PublishJobSchema>;

export const DeadlineJobSchema = z.object({
  scope: ScopeSchema,
  roundId: KeySafeIdSchema,
  /** The phase the deadline ends; a round that has moved on ignores it. */
  phase: z.enum(['collecting', 'critiquing', 'polling']),
  version: z.number().int().min(0),
  /**
   * The deadline this job was scheduled for (the round's `deadline` then): an `extend`
   * that moved it makes this job stale. Absent in jobs queued before it was recorded.
   */
  at: z.number().int().optional(),
  /** 'reminder': not the end of the phase, a reminder to rate during it; absent = the deadline. */
  kind: z.literal('reminder').optional(),
});
export type DeadlineJob = z.infer<typeof DeadlineJobSchema>;

/** What makes a version's statement post once (its publish job's `once` key). */
export function statementOnce(version: number): string {
  return `statement-v${version}`;
}

/** BullMQ job ids may not contain ':' nor be all digits; ours are built only from safe parts. */
export function jobId(...parts: (string | number)[]): string {
  return parts.join('-');
}
