import type { Redis } from 'ioredis';
import { z } from 'zod';
import { type ApprovalMatrix, ApprovalMatrixSchema, CandidateSchema } from '../domain/candidate.js';
import { optionFor } from '../domain/poll-scale.js';
import { type Poll, PollSchema, type Rating } from '../domain/rating.js';
import type { Scope } from '../domain/scope.js';
import { isWellFormedMatrix } from '../domain/selection.js';
import { decode } from './codec.js';
import type { Keys } from './keys.js';

export const CandidateSetSchema = z.object({
  candidates: z.array(CandidateSchema),
  generator: z.string(),
  notes: z.array(z.string()),
  /** The pipeline attempt that wrote it (see FIRST_OF_ATTEMPT); absent in sets stored before. */
  attempt: z.number().int().optional(),
});
export type CandidateSet = z.infer<typeof CandidateSetSchema>;

export const ScoreSetSchema = z.object({
  matrix: ApprovalMatrixSchema,
  model: z.string(),
  /** As CandidateSetSchema's. */
  attempt: z.number().int().optional(),
});
export type ScoreSet = z.infer<typeof ScoreSetSchema>;

/**
 * ScoreSetSchema in plain loops, for a well-formed set: its matrix is K x N approvals
 * (8,000 numbers at 1,000 members), parsed by zod when stored, when selected from and
 * when shown. zod still parses a set this refuses, for the message.
 */
function isScoreSet(value: unknown): value is ScoreSet {
  if (typeof value !== 'object' || value === null) return false;
  const { matrix, model } = value as Partial<Record<keyof ScoreSet, unknown>>;
  return (
    typeof model === 'string' &&
    typeof matrix === 'object' &&
    matrix !== null &&
    isWellFormedMatrix(matrix as ApprovalMatrix)
  );
}

/**
 * A score set's participants and model, and its approvals as rows checked only for being
 * arrays: enough to count who was predicted (a number in some row), without validating
 * every approval of an 8 x 1,000 matrix.
 */
const ScoreOutlineSchema = z.object({
  matrix: z.object({
    participants: z.array(z.string()),
    approvals: z.array(z.custom<readonly unknown[]>(Array.isArray, 'expected an array')),
  }),
  model: z.string(),
});
export type ScoreOutline = z.infer<typeof ScoreOutlineSchema>;

/**
 * KEYS[1] = a stage's output; ARGV = the new value, its attempt. BullMQ gives a job whose
 * lock lapsed (a stalled worker) to another worker while the first may still run, and a
 * model that samples makes the two outputs differ: the first write of an attempt stays, so
 * the next stage, which may have read it already, and the poll agree on one set. A new
 * attempt (a retry after a failed run) samples afresh and replaces it. 1 when written.
 */
const FIRST_OF_ATTEMPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, stored = pcall(cjson.decode, current)
  if ok and type(stored) == 'table' and stored.attempt == tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;

/** Field separator inside the reactions hash: ids never contain it. */
const SEP = '\u001f';

/** A removed reaction's value starts so, followed by the time it was removed. */
const REMOVED = 'x';

function field(participantId: string, optionKey: string, variant: string): string {
  return `${participantId}${SEP}${optionKey}${SEP}${variant}`;
}

/**
 * KEYS[2] = the round, ARGV[3] = the poll's version: -1 unless the round is at that
 * version and its poll open (polling, or taking critiques of it). The service checked
 * that before, but `finish` (or a revision) may close the poll between its check and this
 * write; checked here, in the write's own script, a rating either lands before the round
 * moves on, and so is in the ratings the close records, or is refused, never in between.
 */
const POLL_OPEN_GUARD = `
local raw = redis.call('GET', KEYS[2])
if not raw then return -1 end
local round = cjson.decode(raw)
if round.version ~= tonumber(ARGV[3]) then return -1 end
if round.phase ~= 'polling' and round.phase ~= 'critiquing' then return -1 end`;

/**
 * KEYS = reactions hash, round; ARGV = field, time, version. The stored time is the
 * latest add seen, so a re-add that arrives before the removal it followed still wins; a
 * removal is undone only by an add at least as new.
 */
const ADD_REACTION = `${POLL_OPEN_GUARD}
local current = redis.call('HGET', KEYS[1], ARGV[1])
local at = tonumber(ARGV[2])
if not current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
if string.sub(current, 1, 1) == '${REMOVED}' then
  if at >= tonumber(string.sub(current, 2)) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
  return 0
end
if at > tonumber(current) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0`;

/** KEYS and ARGV as ADD_REACTION's. A removal older than the add it meets is stale. */
const REMOVE_REACTION = `${POLL_OPEN_GUARD}
local current = redis.call('HGET', KEYS[1], ARGV[1])
local at = tonumber(ARGV[2])
if current and string.sub(current, 1, 1) == '${REMOVED}' then
  if at > tonumber(string.sub(current, 2)) then redis.call('HSET', KEYS[1], ARGV[1], '${REMOVED}' .. ARGV[2]) end
  return 0
end
if current and at < tonumber(current) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '${REMOVED}' .. ARGV[2])
if current then return 1 end
return 0`;

/**
 * Candidates, their predicted approvals, the posted poll and its ratings, per version.
 * A member's reactions are kept per option and emoji variant with the time they were
 * added, so the rating is their latest reaction still present: removing it falls back to
 * an earlier one, or to no rating. Removals are kept with their time, so events that
 * arrive out of order settle on what the member did last.
 */
export class PollRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** False when this attempt's set was written already (by another run of the same job), and kept. */
  async saveCandidates(
    scope: Scope,
    roundId: string,
    version: number,
    set: CandidateSet,
  ): Promise<boolean> {
    const value = CandidateSetSchema.parse(set);
    return this.firstOfAttempt(this.keys.candidates(scope, roundId, version), value, value.attempt);
  }

  private async firstOfAttempt(key: string, value: unknown, attempt: number | undefined) {
    const raw = JSON.stringify(value);
    if (attempt === undefined) {
      await this.redis.set(key, raw);
      return true;
    }
    return (await this.redis.eval(FIRST_OF_ATTEMPT, 1, key, raw, String(attempt))) === 1;
  }

  async candidates(scope: Scope, roundId: string, version: number): Promise<CandidateSet | null> {
    const key = this.keys.candidates(scope, roundId, version);
    const raw = await this.redis.get(key);
    return raw === null ? null : decode(CandidateSetSchema, key, raw);
  }

  /** False, as `saveCandidates`, when this attempt's scores were written already. */
  async saveScores(
    scope: Scope,
    roundId: string,
    version: number,
    set: ScoreSet,
  ): Promise<boolean> {
    const value = isScoreSet(set) ? set : ScoreSetSchema.parse(set);
    return this.firstOfAttempt(this.keys.scores(scope, roundId, version), value, value.attempt);
  }

  async scores(scope: Scope, roundId: string, version: number): Promise<ScoreSet | null> {
    const key = this.keys.scores(scope, roundId, version);
    const raw = await this.redis.get(key);
    return raw === null ? null : decode(ScoreSetSchema, key, raw, isScoreSet);
  }

  /**
   * Who was predicted and by which model, the approvals left unvalidated: the progress
   * message needs only that, and validating an 8 x 1,000 matrix for it cost the bot
   * process more than the rest of the message, while the round's model calls were still
   * under way.
   */
  async scoresOutline(
    scope: Scope,
    roundId: string,
    version: number,
  ): Promise<ScoreOutline | null> {
    const key = this.keys.scores(scope, roundId, version);
    const raw = await this.redis.get(key);
    return raw === null ? null : decode(ScoreOutlineSchema, key, raw);
  }

  /** Whether the poll of `version` exists (is chosen), without reading it. */
  async hasPoll(scope: Scope, roundId: string, version: number): Promise<boolean> {
    return (await this.redis.exists(this.keys.poll(scope, roundId, version))) === 1;
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

  /**
   * Records that a member reacted with an option. `variant` is the reaction as the
   * platform names it (👍 and 👍🏽 are two reactions on the same option, each removable on
   * its own). Repeating it changes nothing; it undoes a removal only if it is newer.
   * False, and nothing recorded, when the round has moved past this poll.
   */
  async addReaction(
    scope: Scope,
    roundId: string,
    version: number,
    participantId: string,
    optionKey: string,
    at: number,
    variant: string = optionKey,
  ): Promise<boolean> {
    return this.recordReaction(
      ADD_REACTION,
      scope,
      roundId,
      version,
      field(participantId, optionKey, variant),
      at,
    );
  }

  /**
   * Records that a member took a reaction back at `at`. It is remembered (as a removal
   * with its time), so an add for the same reaction delivered late, with an older time,
   * does not bring the rating back. False, as `addReaction`, once the poll is over.
   */
  async removeReaction(
    scope: Scope,
    roundId: string,
    version: number,
    participantId: string,
    optionKey: string,
    at: number,
    variant: string = optionKey,
  ): Promise<boolean> {
    return this.recordReaction(
      REMOVE_REACTION,
      scope,
      roundId,
      version,
      field(participantId, optionKey, variant),
      at,
    );
  }

  /** Runs an add or a removal script on one reaction field; false once the poll is over. */
  private async recordReaction(
    script: string,
    scope: Scope,
    roundId: string,
    version: number,
    reaction: string,
    at: number,
  ): Promise<boolean> {
    const result = await this.redis.eval(
      script,
      2,
      this.keys.reactions(scope, roundId, version),
      this.keys.round(scope, roundId),
      reaction,
      String(at),
      String(version),
    );
    return result !== -1;
  }

  /**
   * A button click: the member's choice is `keep` as of `at`, and every other option in
   * `optionKeys` is taken back. Clicks carry no emoji variant, so each option is one
   * field, and the member's fields are addressed directly: scanning the poll's whole hash
   * made every click cost as much as the group is large. A removal is recorded even for
   * an option not chosen (yet), so an older click on it delivered late stays replaced.
   * One transaction, so a close cannot fall between taking the old choice back and
   * adding the new one. False, as `addReaction`, once the poll is over.
   */
  async choose(
    scope: Scope,
    roundId: string,
    version: number,
    participantId: string,
    keep: string,
    at: number,
    optionKeys: readonly string[],
  ): Promise<boolean> {
    const key = this.keys.reactions(scope, roundId, version);
    const roundKey = this.keys.round(scope, roundId);
    const tx = this.redis.multi();
    for (const option of optionKeys) {
      if (option === keep) continue;
      const removal = field(participantId, option, option);
      tx.eval(REMOVE_REACTION, 2, key, roundKey, removal, String(at), String(version));
    }
    tx.eval(
      ADD_REACTION,
      2,
      key,
      roundKey,
      field(participantId, keep, keep),
      String(at),
      String(version),
    );
    const results = await tx.exec();
    if (results === null) throw new Error(`the rating of ${participantId} was not applied`);
    const failed = results.find(([error]) => error !== null)?.[0];
    if (failed) throw failed;
    return results.at(-1)?.[1] !== -1;
  }

  /**
   * The reactions present on a poll (removals left out): member, option and variant each,
   * and when it was added, for an adapter comparing them with what the platform shows.
   */
  async reactions(
    scope: Scope,
    roundId: string,
    version: number,
  ): Promise<{ participantId: string; optionKey: string; variant: string; addedAt: number }[]> {
    const all = await this.redis.hgetall(this.keys.reactions(scope, roundId, version));
    return Object.entries(all).flatMap(([name, value]) => {
      if (value.startsWith(REMOVED)) return [];
      const [participantId, optionKey, variant] = name.split(SEP);
      if (!participantId || !optionKey) return [];
      return [{ participantId, optionKey, variant: variant ?? optionKey, addedAt: Number(value) }];
    });
  }

  /**
   * How many reactions the poll has recorded, removals included: at least the number of
   * members who rated it, in one O(1) call, where `ratings` reads them all.
   */
  async reactionEntries(scope: Scope, poll: Poll): Promise<number> {
    return this.redis.hlen(this.keys.reactions(scope, poll.roundId, poll.version));
  }

  /** Whether `markTurnout` was called for this poll. */
  async turnoutMarked(scope: Scope, poll: Poll): Promise<boolean> {
    return (await this.redis.exists(this.keys.turnout(scope, poll.roundId, poll.version))) === 1;
  }

  /**
   * Records that the poll's turnout was complete; true for the one caller, among any that
   * race, who recorded it first.
   */
  async markTurnout(scope: Scope, poll: Poll, at: number): Promise<boolean> {
    const key = this.keys.turnout(scope, poll.roundId, poll.version);
    return (await this.redis.set(key, String(at), 'NX')) === 'OK';
  }

  /** Each member's rating: their most recent reaction still present. */
  async ratings(scope: Scope, poll: Poll): Promise<Rating[]> {
    const all = await this.redis.hgetall(this.keys.reactions(scope, poll.roundId, poll.version));
    const latest = new Map<string, Rating>();
    for (const [name, rawAt] of Object.entries(all)) {
      if (rawAt.startsWith(REMOVED)) continue;
      const [participantId, optionKey] = name.split(SEP);
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
