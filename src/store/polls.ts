import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ApprovalMatrixSchema, CandidateSchema } from '../domain/candidate.js';
import { optionFor } from '../domain/poll-scale.js';
import { type Poll, PollSchema, type Rating } from '../domain/rating.js';
import type { Scope } from '../domain/scope.js';
import { decode } from './codec.js';
import type { Keys } from './keys.js';

export const CandidateSetSchema = z.object({
  candidates: z.array(CandidateSchema),
  generator: z.string(),
  notes: z.array(z.string()),
});
export type CandidateSet = z.infer<typeof CandidateSetSchema>;

export const ScoreSetSchema = z.object({
  matrix: ApprovalMatrixSchema,
  model: z.string(),
});
export type ScoreSet = z.infer<typeof ScoreSetSchema>;

/** Field separator inside the reactions hash: ids never contain it. */
const SEP = '\u001f';

/**
 * Candidates, their predicted approvals, the posted poll and its ratings, per version.
 * A member's reactions are kept per option with the time they were added, so the
 * rating is their latest reaction still present: removing it falls back to an
 * earlier one, or to no rating.
 */
export class PollRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async saveCandidates(scope: Scope, roundId: string, version: number, set: CandidateSet) {
    await this.redis.set(
      this.keys.candidates(scope, roundId, version),
      JSON.stringify(CandidateSetSchema.parse(set)),
    );
  }

  async candidates(scope: Scope, roundId: string, version: number): Promise<CandidateSet | null> {
    const key = this.keys.candidates(scope, roundId, version);
    const raw = await this.redis.get(key);
    return raw === null ? null : decode(CandidateSetSchema, key, raw);
  }

  async saveScores(scope: Scope, roundId: string, version: number, set: ScoreSet) {
    await this.redis.set(
      this.keys.scores(scope, roundId, version),
      JSON.stringify(ScoreSetSchema.parse(set)),
    );
  }

  async scores(scope: Scope, roundId: string, version: number): Promise<ScoreSet | null> {
    const key = this.keys.scores(scope, roundId, version);
    const raw = await this.redis.get(key);
    return raw === null ? null : decode(ScoreSetSchema, key, raw);
  }

  async savePoll(scope: Scope, poll: Poll) {
    await this.redis.set(
      this.keys.poll(scope, poll.roundId, poll.version),
      JSON.stringify(PollSchema.parse(poll)),
    );
  }

  async poll(scope: Scope, roundId: string, version: number): Promise<Poll | null> {
    const key = this.keys.poll(scope, roundId, version);
    const raw = await this.redis.get(key);
    return raw === null ? null : decode(PollSchema, key, raw);
  }

  /** Records that a member reacted with an option; repeating it changes nothing. */
  async addReaction(
    scope: Scope,
    roundId: string,
    version: number,
    participantId: string,
    optionKey: string,
    at: number,
  ): Promise<void> {
    const key = this.keys.reactions(scope, roundId, version);
    // HSETNX: a retried or duplicated event must not move the reaction's time forward.
    await this.redis.hsetnx(key, `${participantId}${SEP}${optionKey}`, String(at));
  }

  async removeReaction(
    scope: Scope,
    roundId: string,
    version: number,
    participantId: string,
    optionKey: string,
  ): Promise<void> {
    await this.redis.hdel(
      this.keys.reactions(scope, roundId, version),
      `${participantId}${SEP}${optionKey}`,
    );
  }

  /** Each member's rating: their most recent reaction still present. */
  async ratings(scope: Scope, poll: Poll): Promise<Rating[]> {
    const all = await this.redis.hgetall(this.keys.reactions(scope, poll.roundId, poll.version));
    const latest = new Map<string, Rating>();
    for (const [field, rawAt] of Object.entries(all)) {
      const [participantId, optionKey] = field.split(SEP);
      const option = optionKey === undefined ? undefined : optionFor(poll.scale, optionKey);
      const at = Number(rawAt);
      if (!participantId || !option || !Number.isFinite(at)) continue;
      const previous = latest.get(participantId);
      if (
        !previous ||
        at > previous.at ||
        (at === previous.at && option.key > previous.optionKey)
      ) {
        latest.set(participantId, {
          participantId,
          optionKey: option.key,
          approval: option.approval,
          at,
        });
      }
    }
    return [...latest.values()].sort((a, b) => a.participantId.localeCompare(b.participantId));
  }
}
