import type { Redis } from 'ioredis';
import { DomainError } from '../domain/errors.js';
import { isTerminal } from '../domain/phase.js';
import { type Round, RoundSchema } from '../domain/round.js';
import { placeName, type Scope } from '../domain/scope.js';
import { decode } from './codec.js';
import type { Keys } from './keys.js';

/** Shown to the member who named the round, in their platform's word for the place. */
function noSuchRound(scope: Scope, roundId: string): DomainError {
  return new DomainError('not_found', `No round "${roundId}" in this ${placeName(scope)}.`);
}

/**
 * Compare-and-set on the whole round document: the update only lands if nobody wrote
 * the round since we read it. Rules run in TypeScript; Redis only guarantees atomicity.
 */
const COMPARE_AND_SET = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  if ARGV[3] ~= ARGV[4] then
    redis.call('HINCRBY', KEYS[2], ARGV[3], -1)
    redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
  end
  return 1
end
return 0`;

const MAX_CAS_ATTEMPTS = 20;

export class RoundRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async create(round: Round): Promise<void> {
    const valid = RoundSchema.parse(round);
    const key = this.keys.round(valid.scope, valid.id);
    const created = await this.redis.set(key, JSON.stringify(valid), 'NX');
    if (created !== 'OK') throw new DomainError('conflict', `Round ${valid.id} already exists.`);
    await this.redis
      .multi()
      .zadd(this.keys.rounds(valid.scope), valid.createdAt, valid.id)
      .sadd(this.keys.openInChannel(valid.scope, valid.channelId), valid.id)
      .zadd(this.keys.channelRounds(valid.scope, valid.channelId), valid.createdAt, valid.id)
      .hincrby(this.keys.phaseCounts(), valid.phase, 1)
      .exec();
  }

  async get(scope: Scope, roundId: string): Promise<Round | null> {
    const key = this.keys.round(scope, roundId);
    const raw = await this.redis.get(key);
    return raw === null ? null : decode(RoundSchema, key, raw);
  }

  async require(scope: Scope, roundId: string): Promise<Round> {
    const round = await this.get(scope, roundId);
    if (!round) throw noSuchRound(scope, roundId);
    return round;
  }

  /**
   * Applies `change` atomically: re-reads and re-applies on a concurrent write, so of two
   * racing closes exactly one sees "collecting" and the other gets its DomainError.
   */
  async update(scope: Scope, roundId: string, change: (round: Round) => Round): Promise<Round> {
    const key = this.keys.round(scope, roundId);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const raw = await this.redis.get(key);
      if (raw === null) throw noSuchRound(scope, roundId);
      const current = decode(RoundSchema, key, raw);
      const next = RoundSchema.parse(change(current));
      const nextRaw = JSON.stringify(next);
      const ok = await this.redis.eval(
        COMPARE_AND_SET,
        2,
        key,
        this.keys.phaseCounts(),
        raw,
        nextRaw,
        current.phase,
        next.phase,
      );
      if (ok === 1) {
        if (isTerminal(next.phase)) {
          await this.redis.srem(this.keys.openInChannel(scope, next.channelId), next.id);
        }
        return next;
      }
    }
    throw new DomainError('conflict', `Round ${roundId} is being changed by others; try again.`);
  }

  /** Rounds not yet closed or cancelled in a channel, newest first. */
  async openInChannel(scope: Scope, channelId: string): Promise<Round[]> {
    const ids = await this.redis.smembers(this.keys.openInChannel(scope, channelId));
    const rounds = await Promise.all(ids.map((id) => this.get(scope, id)));
    return rounds
      .filter((r): r is Round => r !== null && !isTerminal(r.phase))
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  /** How many rounds are in each phase, across all workspaces (for metrics). */
  async phaseCounts(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.phaseCounts());
    return Object.fromEntries(Object.entries(raw).map(([phase, n]) => [phase, Number(n)]));
  }

  /** The channel's most recently started round, open or not. */
  async latestInChannel(scope: Scope, channelId: string): Promise<Round | null> {
    const [id] = await this.redis.zrevrange(this.keys.channelRounds(scope, channelId), 0, 0);
    return id === undefined ? null : this.get(scope, id);
  }

  /** Most recent rounds of a workspace, newest first. */
  async recent(scope: Scope, limit: number): Promise<Round[]> {
    const ids = await this.redis.zrevrange(this.keys.rounds(scope), 0, limit - 1);
    const rounds = await Promise.all(ids.map((id) => this.get(scope, id)));
    return rounds.filter((r): r is Round => r !== null);
  }
}
