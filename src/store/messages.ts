import type { Redis } from 'ioredis';
import { z } from 'zod';
import { type MessageRef, MessageRefSchema } from '../domain/round.js';
import type { Scope } from '../domain/scope.js';
import { decode } from './codec.js';
import type { Keys } from './keys.js';
import { LuaScript } from './script.js';

/** Deletes the lock only if it is still ours (it may have expired and passed to another). */
const RELEASE = new LuaScript(
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
  1,
);

/** How long the time of a slot's first posting try is kept (see markPosting). */
const POSTING_KEPT_MS = 24 * 3_600_000;

/** Thrown when a slot stayed locked for the whole wait; the publish job is retried. */
export class SlotBusyError extends Error {
  constructor(slot: string) {
    super(`another process is still posting the ${slot} message`);
    this.name = 'SlotBusyError';
  }
}

/** What a platform message is to a round; replies and reactions are routed by it. */
export const MessageRoleSchema = z.object({
  roundId: z.string().min(1),
  kind: z.enum(['question', 'progress', 'statement', 'critique-invite', 'results', 'notice']),
  version: z.number().int().min(0),
});
export type MessageRole = z.infer<typeof MessageRoleSchema>;

/** Maps platform message ids to rounds, and each round to the messages the bot posted. */
export class MessageRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async link(scope: Scope, ref: MessageRef, role: MessageRole, slot: string): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.messageRef(scope, ref.channelId, ref.messageId), JSON.stringify(role))
      .hset(this.keys.messages(scope, role.roundId), slot, JSON.stringify(ref))
      .exec();
  }

  async lookup(scope: Scope, channelId: string, messageId: string): Promise<MessageRole | null> {
    const key = this.keys.messageRef(scope, channelId, messageId);
    const raw = await this.redis.get(key);
    return raw === null ? null : decode(MessageRoleSchema, key, raw);
  }

  /**
   * Notes that a try to post the slot's message begins, and says when the first such try
   * began, or null for the first: a try after one that may have posted the message
   * before it was linked (a crash, Redis refusing the link) lets the platform look for
   * it instead of posting it twice. Kept for a day, past any retry of the job.
   */
  async markPosting(
    scope: Scope,
    roundId: string,
    slot: string,
    now: number,
  ): Promise<number | null> {
    const key = this.keys.postingSince(scope, roundId, slot);
    const set = await this.redis.set(key, String(now), 'PX', POSTING_KEPT_MS, 'NX');
    if (set === 'OK') return null;
    const since = Number(await this.redis.get(key));
    return Number.isFinite(since) && since > 0 ? since : now;
  }

  /** The bot's message in a slot such as "question", "progress:1" or "statement:2". */
  async slot(scope: Scope, roundId: string, slot: string): Promise<MessageRef | null> {
    const key = this.keys.messages(scope, roundId);
    const raw = await this.redis.hget(key, slot);
    return raw === null ? null : decode(MessageRefSchema, key, raw);
  }

  /**
   * Runs `work` while holding the slot's lock, so the messages of one slot are posted and
   * edited one at a time across every process: two progress jobs of a round would
   * otherwise both find no message and post two, or edit in the wrong order. The lock
   * expires after `holdMs` in case its holder dies; waiting gives up after `waitMs`.
   */
  async withSlotLock<T>(
    scope: Scope,
    roundId: string,
    slot: string,
    work: () => Promise<T>,
    { holdMs = 30_000, waitMs = 10_000, pollMs = 25 } = {},
  ): Promise<T> {
    const key = this.keys.slotLock(scope, roundId, slot);
    const token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
    const until = Date.now() + waitMs;
    while ((await this.redis.set(key, token, 'PX', holdMs, 'NX')) !== 'OK') {
      if (Date.now() >= until) throw new SlotBusyError(slot);
      await new Promise((r) => setTimeout(r, pollMs));
    }
    try {
      return await work();
    } finally {
      await RELEASE.run(this.redis, key, token);
    }
  }

  async all(scope: Scope, roundId: string): Promise<Record<string, MessageRef>> {
    const key = this.keys.messages(scope, roundId);
    const raw = await this.redis.hgetall(key);
    return Object.fromEntries(
      Object.entries(raw).map(([slot, value]) => [slot, decode(MessageRefSchema, key, value)]),
    );
  }
}
