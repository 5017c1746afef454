import type { Redis } from 'ioredis';
import { z } from 'zod';
import { LIMITS } from '../domain/limits.js';
import { type Contribution, joinContributions, type Opinion } from '../domain/opinion.js';
import { KeySafeIdSchema, type Scope } from '../domain/scope.js';
import { decode } from './codec.js';
import type { ContributionKind, Keys } from './keys.js';
import { LuaScript } from './script.js';

const StoredContributionSchema = z.object({
  participantId: z.string().min(1),
  text: z.string(),
  at: z.number().int(),
  /** When this text was written (the edit's time); older edits never overwrite newer ones. */
  revision: z.number().int().optional(),
});

/**
 * 'stale': an edit older than the text already stored (platforms deliver out of order);
 * 'deleted': the message was deleted, and a late event must not bring it back;
 * 'ignored': the message belongs to someone else;
 * 'closed': the round no longer takes this set (a close moved it on after the caller looked);
 * 'full': a new message from a member who has `LIMITS.repliesPerMember` in the set.
 */
export type UpsertOutcome =
  | 'added'
  | 'edited'
  | 'ignored'
  | 'stale'
  | 'deleted'
  | 'closed'
  | 'full';

/** A reply message as stored: its contribution, and the channel it was posted in. */
export type ReplyMessage = Contribution & { channelId: string };

/** Where a reply message's text is kept. */
export type ReplySlot = { kind: ContributionKind; version: number };

/** A message id's entry in the reply index: its slot, or that it was deleted. */
export type ReplyLocation = ReplySlot | 'deleted' | null;

const DELETED = 'deleted';

/**
 * One script, so an edit racing a deletion or another edit of the same message cannot
 * interleave: KEYS = reply index, slot hash, the slot's by-member index, the channel's
 * reply rounds; ARGV = message id, slot, participant, value, revision, round id (JSON).
 * The by-member index lists each member's message ids (newline-separated, each once), so
 * one member's text is read without decoding the whole set: reading it after every reply
 * was quadratic in the group's size. A new message is refused ('full') when the member
 * already has ARGV[9] in the set; ids of messages since cleared or deleted are dropped
 * from the list then, so it stays that short (an edit that brings a cleared one back
 * lists it again). The channel's reply rounds remember the round of every
 * message stored (in the same write, so no reply stored here lacks it), for a deletion that
 * names only the channel.
 * KEYS[5] = the round, ARGV[7] = the phase that takes this set, ARGV[8] = its version
 * ('' for opinions): the service checked the phase before, but a close may move the round
 * to its run between that check and this write, after the generator read the set. Checked
 * here, a reply either lands before the close, and so reaches the generator, or is
 * refused ('closed'), never counted and left out. A round not stored (the store's own
 * callers) has no phase to check.
 */
const UPSERT = new LuaScript(
  `${setOpenGuard('KEYS[5]', 'ARGV[7]', 'ARGV[8]')}
local indexed = redis.call('HGET', KEYS[1], ARGV[1])
if indexed == '${DELETED}' then return 'deleted' end
if indexed and indexed ~= ARGV[2] then return 'elsewhere' end
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current then
  local stored = cjson.decode(current)
  if stored.participantId ~= ARGV[3] then return 'ignored' end
  local revision = stored.revision or stored.at
  if tonumber(ARGV[5]) < revision then return 'stale' end
end
local live = {}
if not current then
  local ids = redis.call('HGET', KEYS[3], ARGV[3])
  if ids then
    for id in string.gmatch(ids, '[^\\n]+') do
      if id ~= ARGV[1] and redis.call('HEXISTS', KEYS[2], id) == 1 then live[#live + 1] = id end
    end
  end
  if #live >= tonumber(ARGV[9]) then return 'full' end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[6])
if current then return 'edited' end
live[#live + 1] = ARGV[1]
redis.call('HSET', KEYS[3], ARGV[3], table.concat(live, '\\n'))
return 'added'`,
  5,
);

/**
 * Lua returning 'closed' unless the round (key `round`) is in the phase that takes the set
 * (`phase`) and, for critiques, at its version (`version`, '' for opinions); see UPSERT.
 */
function setOpenGuard(round: string, phase: string, version: string): string {
  return `
local round = redis.call('GET', ${round})
if round then
  local r = cjson.decode(round)
  if r.phase ~= ${phase} then return 'closed' end
  if ${version} ~= '' and r.version ~= tonumber(${version}) then return 'closed' end
end`;
}

/**
 * An edit to nothing, guarded as UPSERT is: a close between the service's check and this
 * write must not empty a text the generator has already used. KEYS = slot hash, round;
 * ARGV = message id, phase, version. The message's stored value, or false if none.
 */
const CLEAR = new LuaScript(
  `${setOpenGuard('KEYS[2]', 'ARGV[2]', 'ARGV[3]')}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return raw`,
  2,
);

/** Marks a message deleted and says where its text was; KEYS = reply index; ARGV = message id. */
const TOMBSTONE = `
local indexed = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], '${DELETED}')
if indexed == '${DELETED}' then return false end
return indexed`;

function slotField(slot: ReplySlot): string {
  return `${slot.kind}:${slot.version}`;
}

function parseSlot(field: string): ReplySlot | null {
  const [kind, version] = field.split(':');
  const v = Number(version);
  if ((kind !== 'opinion' && kind !== 'critique') || !Number.isInteger(v) || v < 0) return null;
  return { kind, version: v };
}

/**
 * Opinions (kind 'opinion', version 0) and critiques (kind 'critique', version v) are
 * stored per platform message, so an edit replaces exactly one reply and a deletion
 * removes it; a member's text is all their replies joined. A per-round index remembers
 * which set each message went to, so an edit lands where the message first did (an
 * opinion edited during the critique phase never becomes a critique), and which messages
 * were deleted, so an event delivered after the deletion cannot revive them. A
 * per-channel index remembers which round each stored message went to.
 */
export class ContributionRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Where a message's text is kept, 'deleted', or null for a message never seen. */
  async locate(scope: Scope, roundId: string, messageId: string): Promise<ReplyLocation> {
    const field = await this.redis.hget(this.keys.replyIndex(scope, roundId), messageId);
    if (field === null) return null;
    if (field === DELETED) return DELETED;
    return parseSlot(field);
  }

  /**
   * The round a message of the channel was stored in, in whatever phase that round is now,
   * or null: never stored, or stored by a version that did not record it.
   */
  async roundOf(scope: Scope, channelId: string, messageId: string): Promise<string | null> {
    const key = this.keys.replyRounds(scope, channelId);
    const raw = await this.redis.hget(key, messageId);
    return raw === null ? null : decode(KeySafeIdSchema, key, raw);
  }

  /**
   * Adds or replaces one message. `revision` (default: the message's own time) orders
   * edits: one older than what is stored is 'stale' and changes nothing.
   */
  async upsert(
    scope: Scope,
    roundId: string,
    kind: ContributionKind,
    version: number,
    participantId: string,
    contribution: ReplyMessage,
    revision: number = contribution.at,
  ): Promise<UpsertOutcome> {
    const slot = slotField({ kind, version });
    const value = StoredContributionSchema.parse({
      participantId,
      text: contribution.text,
      at: contribution.at,
      revision,
    });
    const outcome = await UPSERT.run(
      this.redis,
      this.keys.replyIndex(scope, roundId),
      this.keys.contributions(scope, roundId, kind, version),
      this.keys.contributionsByMember(scope, roundId, kind, version),
      this.keys.replyRounds(scope, contribution.channelId),
      this.keys.round(scope, roundId),
      contribution.messageId,
      slot,
      participantId,
      JSON.stringify(value),
      String(revision),
      JSON.stringify(KeySafeIdSchema.parse(roundId)),
      kind === 'opinion' ? 'collecting' : 'critiquing',
      kind === 'opinion' ? '' : String(version),
      String(LIMITS.repliesPerMember),
    );
    if (outcome === 'added' || outcome === 'edited' || outcome === 'stale') return outcome;
    if (outcome === 'full') return 'full';
    if (outcome === 'closed') return 'closed';
    if (outcome === 'deleted') return 'deleted';
    // 'elsewhere' is the caller's mistake (it should have located the message first);
    // refusing keeps one message in exactly one set.
    return 'ignored';
  }

  /**
   * Empties one message's text but keeps its place (an edit to nothing: the member may
   * edit it back). 'closed', and nothing changed, when the round no longer takes the set.
   */
  async clear(
    scope: Scope,
    roundId: string,
    kind: ContributionKind,
    version: number,
    messageId: string,
  ): Promise<'cleared' | 'absent' | 'closed'> {
    const key = this.keys.contributions(scope, roundId, kind, version);
    const result = await CLEAR.run(
      this.redis,
      key,
      this.keys.round(scope, roundId),
      messageId,
      kind === 'opinion' ? 'collecting' : 'critiquing',
      kind === 'opinion' ? '' : String(version),
    );
    if (result === 'closed') return 'closed';
    return typeof result === 'string' ? 'cleared' : 'absent';
  }

  /**
   * A deleted message: removed from whichever set holds it, and remembered as deleted.
   * Returns the slot it was removed from (null when it held nothing).
   */
  async remove(scope: Scope, roundId: string, messageId: string): Promise<ReplySlot | null> {
    const field = await this.redis.eval(
      TOMBSTONE,
      1,
      this.keys.replyIndex(scope, roundId),
      messageId,
    );
    const slot = typeof field === 'string' ? parseSlot(field) : null;
    if (!slot) return null;
    const removed = await this.redis.hdel(
      this.keys.contributions(scope, roundId, slot.kind, slot.version),
      messageId,
    );
    return removed > 0 ? slot : null;
  }

  /** The ids of the messages whose text a set holds (an adapter checks they still exist). */
  async messageIds(
    scope: Scope,
    roundId: string,
    kind: ContributionKind,
    version: number,
  ): Promise<string[]> {
    return this.redis.hkeys(this.keys.contributions(scope, roundId, kind, version));
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

  /**
   * How many members wrote something, counting no further than `enough`: closing a round
   * only needs to know it has a few opinions, and listing 1,000 of them to count them
   * held up the start of the pipeline. Scans the hash a batch at a time.
   */
  async countAuthors(
    scope: Scope,
    roundId: string,
    kind: ContributionKind,
    version: number,
    enough: number,
  ): Promise<number> {
    const key = this.keys.contributions(scope, roundId, kind, version);
    const authors = new Set<string>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', 100);
      cursor = next;
      for (let i = 1; i < flat.length && authors.size < enough; i += 2) {
        const stored = decode(StoredContributionSchema, key, flat[i] as string);
        if (stored.text.trim().length > 0) authors.add(stored.participantId);
      }
    } while (cursor !== '0' && authors.size < enough);
    return Math.min(authors.size, enough);
  }

  /** One member's joined text in a set, read through the by-member index. */
  async get(
    scope: Scope,
    roundId: string,
    kind: ContributionKind,
    version: number,
    participantId: string,
  ): Promise<Opinion | null> {
    const key = this.keys.contributions(scope, roundId, kind, version);
    const ids = await this.redis.hget(
      this.keys.contributionsByMember(scope, roundId, kind, version),
      participantId,
    );
    if (ids === null) return null;
    const messageIds = ids.split('\n');
    const raws = await this.redis.hmget(key, ...messageIds);
    const contributions: Contribution[] = [];
    raws.forEach((raw, i) => {
      if (raw === null) return; // cleared or deleted since
      const stored = decode(StoredContributionSchema, key, raw);
      if (stored.participantId !== participantId) return;
      contributions.push({ messageId: messageIds[i] as string, text: stored.text, at: stored.at });
    });
    return joinContributions(
      participantId,
      contributions,
      kind === 'critique' ? LIMITS.critiqueMaxChars : LIMITS.opinionMaxChars,
    );
  }
}
