import { randomUUID } from 'node:crypto';
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

/**
 * Moves the lock's expiry on by ARGV[2] ms, only while it is still ours: one that already
 * expired may have been taken by another holder, and must not come back to this one.
 */
const RENEW = new LuaScript(
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`,
  1,
);

/**
 * Links a slot's new message (KEYS: lock, the round's messages, the message's role) only
 * while the lock is still ours and the slot has no message yet. Returns 1 when linked.
 */
const LINK_HELD = new LuaScript(
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('SET', KEYS[3], ARGV[4])
return 1
`,
  3,
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

/** What the work run under a slot's lock can ask of it (see withSlotLock). */
export interface SlotLock {
  /**
   * Whether the lock is still this holder's. Renewal keeps it while the holder runs, but
   * not through a pause longer than its life or a Redis failover that lost it; another
   * holder may then have posted or edited the slot's message meanwhile.
   */
  held(): Promise<boolean>;
  /**
   * Links a message this holder just posted in the slot, only while the lock is still its
   * own and the slot has no message yet. False otherwise: a holder that lost the lock
   * must not replace the message another holder linked meanwhile with its older one.
   */
  link(ref: MessageRef, role: MessageRole): Promise<boolean>;
}

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
   * lasts `holdMs` from its holder's last renewal, every third of that while `work` runs:
   * a platform call may take longer than any fixed life (a 429's retry-after, timeouts
   * and retries), and only a holder that died, or froze that long, lets it go; `work` is
   * given the lock to ask whether it still holds it. Waiting gives up after `waitMs`.
   */
  async withSlotLock<T>(
    scope: Scope,
    roundId: string,
    slot: string,
    work: (lock: SlotLock) => Promise<T>,
    { holdMs = 30_000, waitMs = 10_000, pollMs = 25 } = {},
  ): Promise<T> {
    const key = this.keys.slotLock(scope, roundId, slot);
    const token = `${process.pid}-${randomUUID()}`;
    const until = Date.now() + waitMs;
    while ((await this.redis.set(key, token, 'PX', holdMs, 'NX')) !== 'OK') {
      if (Date.now() >= until) throw new SlotBusyError(slot);
      await new Promise((r) => setTimeout(r, pollMs));
    }
    const renew = setInterval(
      () => {
        RENEW.run(this.redis, key, token, holdMs).catch(() => {
          // Tried again on the next tick; the lock lasts holdMs from the last renewal
          // that reached Redis, as a dead holder's does from its last.
        });
      },
      Math.max(1, Math.floor(holdMs / 3)),
    );
    renew.unref();
    try {
      return await work(this.heldLock(scope, roundId, slot, key, token));
    } finally {
      clearInterval(renew);
      await RELEASE.run(this.redis, key, token);
    }
  }

  private heldLock(
    scope: Scope,
    roundId: string,
    slot: string,
    key: string,
    token: string,
  ): SlotLock {
    return {
      held: async () => (await this.redis.get(key)) === token,
      link: async (ref, role) => {
        const linked = await LINK_HELD.run(
          this.redis,
          key,
          this.keys.messages(scope, roundId),
          this.keys.messageRef(scope, ref.channelId, ref.messageId),
          token,
          slot,
          JSON.stringify(ref),
          JSON.stringify(role),
        );
        return Number(linked) === 1;
      },
    };
  }

  async all(scope: Scope, roundId: string): Promise<Record<string, MessageRef>> {
    const key = this.keys.messages(scope, roundId);
    const raw = await this.redis.hgetall(key);
    return Object.fromEntries(
      Object.entries(raw).map(([slot, value]) => [slot, decode(MessageRefSchema, key, value)]),
    );
  }
}
