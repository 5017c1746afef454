import type { Redis } from 'ioredis';
import { z } from 'zod';
import { type MessageRef, MessageRefSchema } from '../domain/round.js';
import type { Scope } from '../domain/scope.js';
import { decode } from './codec.js';
import type { Keys } from './keys.js';

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

  /** The bot's message in a slot such as "question", "progress:1" or "statement:2". */
  async slot(scope: Scope, roundId: string, slot: string): Promise<MessageRef | null> {
    const key = this.keys.messages(scope, roundId);
    const raw = await this.redis.hget(key, slot);
    return raw === null ? null : decode(MessageRefSchema, key, raw);
  }

  async all(scope: Scope, roundId: string): Promise<Record<string, MessageRef>> {
    const key = this.keys.messages(scope, roundId);
    const raw = await this.redis.hgetall(key);
    return Object.fromEntries(
      Object.entries(raw).map(([slot, value]) => [slot, decode(MessageRefSchema, key, value)]),
    );
  }
}
