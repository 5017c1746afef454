import type { Redis } from 'ioredis';
import { z } from 'zod';
import { type Contribution, joinContributions, type Opinion } from '../domain/opinion.js';
import type { Scope } from '../domain/scope.js';
import { decode } from './codec.js';
import type { ContributionKind, Keys } from './keys.js';

const StoredContributionSchema = z.object({
  participantId: z.string().min(1),
  text: z.string(),
  at: z.number().int(),
});

export type UpsertOutcome = 'added' | 'edited' | 'ignored';

/**
 * Opinions (kind 'opinion', version 0) and critiques (kind 'critique', version v) are
 * stored per platform message, so an edit replaces exactly one reply and a deletion
 * removes it; a member's text is all their replies joined.
 */
export class ContributionRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Adds or replaces one message. A message id that belongs to someone else is ignored. */
  async upsert(
    scope: Scope,
    roundId: string,
    kind: ContributionKind,
    version: number,
    participantId: string,
    contribution: Contribution,
  ): Promise<UpsertOutcome> {
    const key = this.keys.contributions(scope, roundId, kind, version);
    const existingRaw = await this.redis.hget(key, contribution.messageId);
    if (existingRaw !== null) {
      const existing = decode(StoredContributionSchema, key, existingRaw);
      if (existing.participantId !== participantId) return 'ignored';
    }
    const value = { participantId, text: contribution.text, at: contribution.at };
    // A duplicate or retried event carries the same text; writing it again is harmless.
    await this.redis.hset(key, contribution.messageId, JSON.stringify(value));
    return existingRaw === null ? 'added' : 'edited';
  }

  /** Removes one message; returns whose it was (null when unknown). */
  async remove(
    scope: Scope,
    roundId: string,
    kind: ContributionKind,
    version: number,
    messageId: string,
  ): Promise<string | null> {
    const key = this.keys.contributions(scope, roundId, kind, version);
    const raw = await this.redis.hget(key, messageId);
    if (raw === null) return null;
    await this.redis.hdel(key, messageId);
    return decode(StoredContributionSchema, key, raw).participantId;
  }

  /** Every member's joined text, in order of their first reply. */
  async list(
    scope: Scope,
    roundId: string,
    kind: ContributionKind,
    version: number,
    maxChars?: number,
  ): Promise<Opinion[]> {
    const key = this.keys.contributions(scope, roundId, kind, version);
    const all = await this.redis.hgetall(key);
    const byMember = new Map<string, Contribution[]>();
    for (const [messageId, raw] of Object.entries(all)) {
      const stored = decode(StoredContributionSchema, key, raw);
      const list = byMember.get(stored.participantId) ?? [];
      list.push({ messageId, text: stored.text, at: stored.at });
      byMember.set(stored.participantId, list);
    }
    const joined: { first: number; opinion: Opinion }[] = [];
    for (const [participantId, contributions] of byMember) {
      const opinion = joinContributions(participantId, contributions, maxChars);
      if (opinion) joined.push({ first: Math.min(...contributions.map((c) => c.at)), opinion });
    }
    return joined
      .sort(
        (a, b) =>
          a.first - b.first || a.opinion.participantId.localeCompare(b.opinion.participantId),
      )
      .map((j) => j.opinion);
  }

  async get(
    scope: Scope,
    roundId: string,
    kind: ContributionKind,
    version: number,
    participantId: string,
  ): Promise<Opinion | null> {
    const all = await this.list(scope, roundId, kind, version);
    return all.find((o) => o.participantId === participantId) ?? null;
  }
}
