import { z } from 'zod';
import { LIMITS } from './limits.js';
import { RoundPhaseSchema } from './phase.js';
import { PollScaleSchema } from './poll-scale.js';
import { KeySafeIdSchema, ScopeSchema } from './scope.js';
import { WelfareNameSchema } from './welfare-name.js';

export const QuestionSchema = z
  .string()
  .trim()
  .min(1, 'The question is empty: write the question after the command.')
  .max(
    LIMITS.questionMaxChars,
    `The question is too long: ${LIMITS.questionMaxChars} characters at most.`,
  );

/**
 * A question asked now: as QuestionSchema, with something in it besides quote marks
 * (`start ""` posted a question of two quotes to the channel) and invisible format
 * characters (zero-width spaces and joiners, which trim() keeps, posted a blank question).
 * Kept apart from QuestionSchema, which also reads stored rounds back.
 */
export const NewQuestionSchema = QuestionSchema.refine(
  (q) => /[^\s\p{Cf}"'“”‘’`]/u.test(q),
  'The question is empty: write the question after the command.',
);

/**
 * Whether members rate with buttons instead of reactions: reactions show everyone who
 * chose what (not anonymous) and the running tally (not hidden).
 */
export function ratesWithButtons(settings: Pick<RoundSettings, 'anonymous' | 'hidden'>): boolean {
  return settings.anonymous || settings.hidden;
}

export const RoundSettingsSchema = z.object({
  candidates: z.number().int().min(LIMITS.minCandidates).max(LIMITS.maxCandidates),
  /** Minutes the opinion phase stays open; null = until a moderator closes it. */
  minutes: z.number().int().min(1).max(LIMITS.maxMinutes).nullable(),
  welfare: WelfareNameSchema,
  scale: PollScaleSchema,
  // Poll behaviour (issue 7). Defaults keep rounds stored before these existed parsing.
  /** Minutes each poll stays open before it finishes by itself; null = until `finish`. */
  pollMinutes: z.number().int().min(1).max(LIMITS.maxMinutes).nullable().default(null),
  /** Minutes after a statement is posted to remind members who have not rated; null = never. */
  remindMinutes: z.number().int().min(1).max(LIMITS.maxMinutes).nullable().default(null),
  /**
   * Members rate with buttons (reactions would show who chose what); ratings are stored
   * under a pseudonym and nothing the bot posts or exports names a member.
   */
  anonymous: z.boolean().default(false),
  /** Results show only how many rated until the round is finished. */
  hidden: z.boolean().default(false),
  /** Ratings a statement needs before the results may call it endorsed; 0 = no verdict. */
  minTurnout: z.number().int().min(0).max(LIMITS.maxTurnout).default(0),
  /**
   * Percent: when the first poll's mean approval is below this once every participant has
   * rated it, or at its deadline, a critique round starts instead of a finish. Null = never.
   */
  reviseBelow: z.number().int().min(1).max(100).nullable().default(null),
});
export type RoundSettings = z.infer<typeof RoundSettingsSchema>;

export const DEFAULT_SETTINGS: RoundSettings = {
  candidates: LIMITS.defaultCandidates,
  minutes: null,
  welfare: 'egalitarian',
  scale: 'approval3',
  pollMinutes: null,
  remindMinutes: null,
  anonymous: false,
  hidden: false,
  minTurnout: 0,
  reviseBelow: null,
};

/** A platform message the bot posted or reads, as the adapter identifies it. */
export const MessageRefSchema = z.object({
  channelId: z.string().min(1),
  messageId: z.string().min(1),
  /** Thread the message lives in, when the platform has threads. */
  threadId: z.string().min(1).nullable(),
});
export type MessageRef = z.infer<typeof MessageRefSchema>;

export const RoundSchema = z.object({
  id: KeySafeIdSchema,
  scope: ScopeSchema,
  channelId: z.string().min(1),
  question: QuestionSchema,
  createdBy: z.string().min(1),
  createdAt: z.number().int(),
  /** Epoch ms at which the current collecting or critiquing phase closes, if any. */
  deadline: z.number().int().nullable(),
  settings: RoundSettingsSchema,
  phase: RoundPhaseSchema,
  /** The message that carries the question; its thread holds the opinions. */
  questionRef: MessageRefSchema.nullable(),
  /** 0 before the first statement; each revision adds one. */
  version: z.number().int().min(0),
  /** How many times the pipeline was started (retries after failure add one). */
  attempt: z.number().int().min(0),
  failureReason: z.string().nullable(),
  /** Seed for every random choice made for this round. */
  seed: z.number().int(),
  /**
   * Set by the phase change of `close`, `critique` and `finish` and cleared once its
   * follow-up (the pipeline job queued; the critique invitation and deadline; the poll
   * closed, its ratings recorded, the results queued) is done. Those steps come after the
   * change, so an error between the two (a Redis-side error such as OOM) would leave a
   * round generating with no job, or finished with no results; the same command run
   * again, or the deadline job's next attempt, finds it set and redoes the follow-up,
   * every step of which is idempotent.
   */
  followUpPending: z.boolean().default(false),
});
export type Round = z.infer<typeof RoundSchema>;
