import { z } from 'zod';
import { reactionVariant } from './emoji.js';

const DispatchSchema = z.object({
  t: z.string().nullable(),
  s: z.number().int().nullable(),
  d: z.unknown(),
});

const IdSchema = z.object({ id: z.string() });
const ReactionSchema = z.object({
  message_id: z.string(),
  user_id: z.string(),
  emoji: z.object({ id: z.string().nullable().optional(), name: z.string().nullable() }),
  burst: z.boolean().optional(),
});

const ClearedSchema = z.object({
  message_id: z.string(),
  emoji: z.object({ id: z.string().nullable().optional(), name: z.string().nullable() }).optional(),
});

/** The identity of a dispatch the adapter acts on, computed alike from the raw packet and from discord.js objects. */
export function dispatchKey(type: string, data: unknown): string | null {
  switch (type) {
    case 'MESSAGE_CREATE':
    case 'MESSAGE_UPDATE':
    case 'MESSAGE_DELETE':
    case 'INTERACTION_CREATE': {
      const parsed = IdSchema.safeParse(data);
      return parsed.success ? `${type}:${parsed.data.id}` : null;
    }
    case 'MESSAGE_REACTION_ADD':
    case 'MESSAGE_REACTION_REMOVE': {
      const parsed = ReactionSchema.safeParse(data);
      if (!parsed.success) return null;
      const { message_id, user_id, emoji, burst } = parsed.data;
      return reactionKey(type, message_id, user_id, emoji.id ?? emoji.name ?? '', burst === true);
    }
    case 'MESSAGE_REACTION_REMOVE_ALL':
    case 'MESSAGE_REACTION_REMOVE_EMOJI': {
      const parsed = ClearedSchema.safeParse(data);
      if (!parsed.success) return null;
      const { message_id, emoji } = parsed.data;
      return clearedKey(
        type,
        message_id,
        type === 'MESSAGE_REACTION_REMOVE_ALL' ? null : (emoji?.id ?? emoji?.name ?? ''),
      );
    }
    default:
      return null;
  }
}

/** Replayed, a removal of all (or one emoji's) reactions would take back ratings given since. */
export function clearedKey(
  type: 'MESSAGE_REACTION_REMOVE_ALL' | 'MESSAGE_REACTION_REMOVE_EMOJI',
  messageId: string,
  variant: string | null,
): string {
  return variant === null ? `${type}:${messageId}` : `${type}:${messageId}:${variant}`;
}

export function reactionKey(
  type: 'MESSAGE_REACTION_ADD' | 'MESSAGE_REACTION_REMOVE',
  messageId: string,
  userId: string,
  emoji: string,
  burst: boolean,
): string {
  // A normal and a super reaction of one emoji are two events, not a replay of one.
  return `${type}:${messageId}:${userId}:${reactionVariant(emoji, burst)}`;
}

/**
 * Drops dispatches a resumed gateway session delivers a second time. Within a session
 * every dispatch has a sequence number; one at or below the highest already seen on
 * that shard is a replay. A fresh session (READY) starts over.
 *
 * discord.js emits `raw` for a packet and then, synchronously, the event built from it,
 * so a replay is marked here and checked by the handler in the same tick.
 */
export class ReplayGuard {
  private readonly highest = new Map<number, number>();
  private readonly replayed = new Set<string>();

  /** Feed every raw gateway packet, in order. */
  observe(packet: unknown, shardId: number): void {
    const parsed = DispatchSchema.safeParse(packet);
    if (!parsed.success || parsed.data.t === null || parsed.data.s === null) return;
    const { t, s, d } = parsed.data;
    if (t === 'READY') {
      this.highest.set(shardId, s);
      return;
    }
    const highest = this.highest.get(shardId);
    if (highest === undefined || s > highest) {
      this.highest.set(shardId, s);
      return;
    }
    const key = dispatchKey(t, d);
    if (key === null) return;
    this.replayed.add(key);
    queueMicrotask(() => this.replayed.delete(key));
  }

  /** True while the dispatch with this key is a replay being handled. */
  isReplay(key: string): boolean {
    return this.replayed.has(key);
  }
}
