import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { z } from 'zod';
import type { Rating } from '../domain/rating.js';
import type { Scope } from '../domain/scope.js';
import { decode } from './codec.js';
import type { Keys } from './keys.js';

/**
 * A workspace's ratings matrix: every closed poll's statement (members x statements,
 * approvals in [0, 1]), with the statements' texts and the members' own opinions, so a
 * reward model can learn what each member actually endorsed.
 *
 * Two layouts of the same data, written together: one hash per part for the whole
 * matrix (its count is one HLEN), and an index for a window of it — statement ids by
 * poll open time, one hash of ratings per statement and of opinions per round — so that
 * reading the latest statements costs what the window holds, not the workspace's age.
 * A workspace recorded before the index existed is indexed on its first windowed read
 * (indexReady).
 *
 * Polls are recorded when they close (finish, or a revision replacing them), not per
 * reaction: the poll's reactions hash already resolves a member's latest reaction and
 * its removal, a closed poll no longer changes, and the matrix is only read when a later
 * version or round is scored, which always comes after the close. Recording the same
 * poll again overwrites the same fields, so a retried close is harmless.
 */

/** Field separator inside the hashes: ids never contain it. */
const SEP = '\u001f';

export const MatrixStatementSchema = z.object({
  /** `<roundId>.v<version>`: unique in the workspace. */
  id: z.string().min(1),
  text: z.string().min(1),
  roundId: z.string().min(1),
  version: z.number().int().min(1),
  question: z.string(),
  /** When the poll opened (ms). */
  at: z.number().int(),
});
export type MatrixStatement = z.infer<typeof MatrixStatementSchema>;

const StoredRatingSchema = z.object({
  approval: z.number().min(0).max(1),
  at: z.number().int(),
});

const StoredOpinionSchema = z.object({ text: z.string(), at: z.number().int() });

export interface MatrixRating {
  member: string;
  statement: string;
  approval: number;
  at: number;
}

export interface RatingsMatrix {
  /** Every member who rated or gave an opinion; `text` is their opinions, oldest first. */
  members: { id: string; text: string }[];
  statements: MatrixStatement[];
  ratings: MatrixRating[];
}

export interface ClosedPoll {
  roundId: string;
  version: number;
  question: string;
  statement: string;
  openedAt: number;
  ratings: readonly Rating[];
  /** The round's opinions: a member's own words count towards what they approve. */
  opinions: readonly { participantId: string; text: string }[];
}

export function matrixStatementId(roundId: string, version: number): string {
  return `${roundId}.v${version}`;
}

export class RatingsMatrixRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async recordPoll(scope: Scope, poll: ClosedPoll): Promise<void> {
    const id = matrixStatementId(poll.roundId, poll.version);
    const statement: MatrixStatement = {
      id,
      text: poll.statement,
      roundId: poll.roundId,
      version: poll.version,
      question: poll.question,
      at: poll.openedAt,
    };
    const ratings = poll.ratings.map((r) => ({
      member: r.participantId,
      raw: JSON.stringify({ approval: r.approval, at: r.at }),
    }));
    const opinions = poll.opinions.map((o) => ({
      member: o.participantId,
      raw: JSON.stringify({ text: o.text, at: poll.openedAt }),
    }));
    // A workspace's first poll: nothing recorded before the index to copy into it.
    const first = (await this.redis.hlen(this.keys.ratingsMatrix(scope, 'statements'))) === 0;
    const tx = this.redis.multi();
    this.writeStatement(tx, scope, MatrixStatementSchema.parse(statement), ratings, opinions);
    if (first) tx.set(this.keys.ratingsMatrixIndexed(scope), '1');
    await tx.exec();
  }

  /** How many ratings the workspace has: cheap, to decide whether learning is worth it. */
  async count(scope: Scope): Promise<number> {
    return this.redis.hlen(this.keys.ratingsMatrix(scope, 'ratings'));
  }

  /**
   * The matrix, or its latest `maxStatements` statements (by poll open time, ties by id)
   * with their ratings and the opinions of their rounds: the whole history stays stored
   * (the rounds' own records, which exports read, are apart), while a model fitted on every round need not grow with the
   * workspace's age.
   */
  async load(scope: Scope, maxStatements = 0): Promise<RatingsMatrix> {
    return maxStatements > 0 ? this.loadLatest(scope, maxStatements) : this.loadAll(scope);
  }

  /** One statement in both layouts; the same fields again overwrite, so a retry is harmless. */
  private writeStatement(
    tx: ChainableCommander,
    scope: Scope,
    statement: MatrixStatement,
    ratings: readonly StoredField[],
    opinions: readonly StoredField[],
  ): void {
    const { id, roundId } = statement;
    tx.hset(this.keys.ratingsMatrix(scope, 'statements'), id, JSON.stringify(statement));
    tx.zadd(this.keys.ratingsMatrixByTime(scope), statement.at, id);
    if (ratings.length > 0) {
      // One field per (member, statement): the member's latest rating replaces any other.
      tx.hset(
        this.keys.ratingsMatrix(scope, 'ratings'),
        Object.fromEntries(ratings.map((r) => [`${r.member}${SEP}${id}`, r.raw])),
      );
      tx.hset(
        this.keys.ratingsMatrixStatement(scope, id),
        Object.fromEntries(ratings.map((r) => [r.member, r.raw])),
      );
    }
    if (opinions.length > 0) {
      tx.hset(
        this.keys.ratingsMatrix(scope, 'opinions'),
        Object.fromEntries(opinions.map((o) => [`${o.member}${SEP}${roundId}`, o.raw])),
      );
      tx.hset(
        this.keys.ratingsMatrixRound(scope, roundId),
        Object.fromEntries(opinions.map((o) => [o.member, o.raw])),
      );
    }
  }

  private async loadAll(scope: Scope): Promise<RatingsMatrix> {
    const all = await this.readAll(scope);
    return this.assemble(scope, all.statements, all.ratings, all.opinions);
  }

  /** The whole-matrix hashes as stored, statements in open-time order. */
  private async readAll(scope: Scope): Promise<{
    statements: MatrixStatement[];
    ratings: StoredRating[];
    opinions: StoredOpinion[];
  }> {
    const statementsKey = this.keys.ratingsMatrix(scope, 'statements');
    const [rawStatements, rawRatings, rawOpinions] = await Promise.all([
      this.redis.hgetall(statementsKey),
      this.redis.hgetall(this.keys.ratingsMatrix(scope, 'ratings')),
      this.redis.hgetall(this.keys.ratingsMatrix(scope, 'opinions')),
    ]);
    const statements = Object.values(rawStatements)
      .map((raw) => decode(MatrixStatementSchema, statementsKey, raw))
      .sort(byOpenTime);
    const ratingsKey = this.keys.ratingsMatrix(scope, 'ratings');
    const opinionsKey = this.keys.ratingsMatrix(scope, 'opinions');
    const ratings: StoredRating[] = [];
    for (const [field, raw] of Object.entries(rawRatings)) {
      const [member, statement] = field.split(SEP);
      if (member && statement) ratings.push({ member, statement, raw, key: ratingsKey });
    }
    const opinions: StoredOpinion[] = [];
    for (const [field, raw] of Object.entries(rawOpinions)) {
      const [member, roundId] = field.split(SEP);
      if (member && roundId) opinions.push({ member, roundId, raw, key: opinionsKey });
    }
    return { statements, ratings, opinions };
  }

  private async loadLatest(scope: Scope, maxStatements: number): Promise<RatingsMatrix> {
    const statementsKey = this.keys.ratingsMatrix(scope, 'statements');
    const byTime = this.keys.ratingsMatrixByTime(scope);
    if (!(await this.indexReady(scope))) {
      // Another process is indexing this workspace: read it whole, as before the index.
      const all = await this.readAll(scope);
      return this.assemble(scope, all.statements.slice(-maxStatements), all.ratings, all.opinions);
    }
    // Ascending by score, ties by id: the same order as byOpenTime.
    const ids = await this.redis.zrange(byTime, String(-maxStatements), '-1');
    if (ids.length === 0) return { members: [], statements: [], ratings: [] };
    const statements = (await this.redis.hmget(statementsKey, ...ids))
      .filter((raw): raw is string => raw !== null)
      .map((raw) => decode(MatrixStatementSchema, statementsKey, raw));
    const rounds = [...new Set(statements.map((s) => s.roundId))];
    const pipeline = this.redis.pipeline();
    for (const s of statements) pipeline.hgetall(this.keys.ratingsMatrixStatement(scope, s.id));
    for (const roundId of rounds) pipeline.hgetall(this.keys.ratingsMatrixRound(scope, roundId));
    const replies = (await pipeline.exec()) ?? [];
    const hash = (i: number): Record<string, string> => {
      const [err, value] = replies[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      return (value ?? {}) as Record<string, string>;
    };
    const ratings: StoredRating[] = statements.flatMap((s, i) => {
      const key = this.keys.ratingsMatrixStatement(scope, s.id);
      return Object.entries(hash(i)).map(([member, raw]) => ({
        member,
        statement: s.id,
        raw,
        key,
      }));
    });
    const opinions: StoredOpinion[] = rounds.flatMap((roundId, j) => {
      const key = this.keys.ratingsMatrixRound(scope, roundId);
      return Object.entries(hash(statements.length + j)).map(([member, raw]) => ({
        member,
        roundId,
        raw,
        key,
      }));
    });
    return this.assemble(scope, statements, ratings, opinions);
  }

  /**
   * Whether windowed reads may use the index: once a pass has copied into it whatever the
   * whole-matrix hashes held before it existed (or were written by a version without it).
   * The first windowed read of a workspace runs that pass, one process at a time (a
   * Redis lock; the others read whole meanwhile). The pass streams the hashes (HSCAN)
   * and writes only index entries that are missing (ZADD NX, HSETNX), so it holds one
   * page at a time and never replaces what recordPoll wrote meanwhile; run again after a
   * crash, it only fills what is still missing.
   */
  private async indexReady(scope: Scope): Promise<boolean> {
    const marker = this.keys.ratingsMatrixIndexed(scope);
    const [marked, indexed, stored] = await Promise.all([
      this.redis.exists(marker),
      this.redis.zcard(this.keys.ratingsMatrixByTime(scope)),
      this.redis.hlen(this.keys.ratingsMatrix(scope, 'statements')),
    ]);
    // Fewer indexed statements than stored ones: a version without the index wrote since.
    if (marked === 1 && indexed >= stored) return true;
    const lock = `${marker}:lock`;
    // The lock's value is this pass's own, so a pass that outlived it cannot free another's.
    const token = randomUUID();
    if ((await this.redis.set(lock, token, 'PX', INDEX_LOCK_MS, 'NX')) !== 'OK') return false;
    try {
      await this.scanInto(this.keys.ratingsMatrix(scope, 'statements'), (tx, id, raw) => {
        const statement = decode(
          MatrixStatementSchema,
          this.keys.ratingsMatrix(scope, 'statements'),
          raw,
        );
        tx.zadd(this.keys.ratingsMatrixByTime(scope), 'NX', statement.at, id);
      });
      await this.scanInto(this.keys.ratingsMatrix(scope, 'ratings'), (tx, field, raw) => {
        const [member, statement] = field.split(SEP);
        if (member && statement)
          tx.hsetnx(this.keys.ratingsMatrixStatement(scope, statement), member, raw);
      });
      await this.scanInto(this.keys.ratingsMatrix(scope, 'opinions'), (tx, field, raw) => {
        const [member, roundId] = field.split(SEP);
        if (member && roundId) tx.hsetnx(this.keys.ratingsMatrixRound(scope, roundId), member, raw);
      });
      await this.redis.set(marker, '1');
      return true;
    } catch {
      // Redis refused a write (out of memory, say): no marker, and this scoring reads the
      // matrix whole; the next one tries the pass again.
      return false;
    } finally {
      await this.redis
        .eval(RELEASE_LOCK, 1, lock, token)
        .catch(() => undefined /* it expires on its own */);
    }
  }

  /** Every field of a hash, a page at a time, each page's writes in one round trip. */
  private async scanInto(
    key: string,
    write: (tx: ChainableCommander, field: string, value: string) => void,
  ): Promise<void> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', INDEX_PAGE);
      cursor = next;
      const tx = this.redis.pipeline();
      for (let k = 0; k + 1 < flat.length; k += 2)
        write(tx, flat[k] as string, flat[k + 1] as string);
      if (tx.length > 0) {
        // A write Redis refused must not let the marker claim a complete index.
        for (const [err] of (await tx.exec()) ?? []) if (err) throw err;
      }
    } while (cursor !== '0');
  }

  /** The matrix from stored fields: ratings of known statements, members sorted, opinions oldest first. */
  private assemble(
    scope: Scope,
    statements: MatrixStatement[],
    storedRatings: readonly StoredRating[],
    storedOpinions: readonly StoredOpinion[],
  ): RatingsMatrix {
    // Where a bad value was read, so the error names the hash and field to repair.
    const whole = {
      ratings: this.keys.ratingsMatrix(scope, 'ratings'),
      opinions: this.keys.ratingsMatrix(scope, 'opinions'),
    };
    // The label is only built for a value that fails (decoding again, to throw with it).
    const read = <T extends z.ZodType>(
      schema: T,
      key: string,
      field: () => string,
      raw: string,
    ) => {
      try {
        return decode(schema, key, raw);
      } catch {
        return decode(schema, `${key} field ${JSON.stringify(field())}`, raw);
      }
    };
    const known = new Set(statements.map((s) => s.id));
    const rounds = new Set(statements.map((s) => s.roundId));
    const ratings: MatrixRating[] = [];
    for (const { member, statement, raw, key } of storedRatings) {
      if (!known.has(statement)) continue;
      const field = () => (key === whole.ratings ? `${member}${SEP}${statement}` : member);
      const r = read(StoredRatingSchema, key, field, raw);
      ratings.push({ member, statement, approval: r.approval, at: r.at });
    }
    ratings.sort(
      (a, b) =>
        a.at - b.at || compareIds(a.statement, b.statement) || compareIds(a.member, b.member),
    );
    const opinions = new Map<string, { text: string; at: number; roundId: string }[]>();
    for (const { member, roundId, raw, key } of storedOpinions) {
      if (!rounds.has(roundId)) continue;
      const field = () => (key === whole.opinions ? `${member}${SEP}${roundId}` : member);
      const o = read(StoredOpinionSchema, key, field, raw);
      opinions.set(member, [...(opinions.get(member) ?? []), { ...o, roundId }]);
    }
    const memberIds = new Set<string>([...opinions.keys(), ...ratings.map((r) => r.member)]);
    const members = [...memberIds].sort(compareIds).map((id) => ({
      id,
      text: (opinions.get(id) ?? [])
        .sort((a, b) => a.at - b.at || compareIds(a.roundId, b.roundId))
        .map((o) => o.text)
        .join('\n'),
    }));
    return { members, statements, ratings };
  }
}

/** Fields read (and index entries written) per round trip while indexing an older matrix. */
const INDEX_PAGE = 1000;
/** A pass longer than this lets another process start one too, which is harmless. */
const INDEX_LOCK_MS = 120_000;
/** Deletes the lock only if it still holds this pass's token. */
const RELEASE_LOCK =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

interface StoredField {
  member: string;
  /** The stored JSON, decoded when the matrix is assembled. */
  raw: string;
}
interface StoredRating extends StoredField {
  statement: string;
  /** The hash it was read from: the whole matrix's, or the statement's in the index. */
  key: string;
}
interface StoredOpinion extends StoredField {
  roundId: string;
  key: string;
}

/** Code-unit order, as Redis orders a sorted set's ties, so both reads agree. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byOpenTime(a: MatrixStatement, b: MatrixStatement): number {
  return a.at - b.at || compareIds(a.id, b.id);
}
