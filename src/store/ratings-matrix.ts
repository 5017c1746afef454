import type { Redis } from 'ioredis';
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
    const tx = this.redis.multi();
    tx.hset(
      this.keys.ratingsMatrix(scope, 'statements'),
      id,
      JSON.stringify(MatrixStatementSchema.parse(statement)),
    );
    if (poll.ratings.length > 0) {
      // One field per (member, statement): the member's latest rating replaces any other.
      tx.hset(
        this.keys.ratingsMatrix(scope, 'ratings'),
        Object.fromEntries(
          poll.ratings.map((r) => [
            `${r.participantId}${SEP}${id}`,
            JSON.stringify({ approval: r.approval, at: r.at }),
          ]),
        ),
      );
    }
    if (poll.opinions.length > 0) {
      tx.hset(
        this.keys.ratingsMatrix(scope, 'opinions'),
        Object.fromEntries(
          poll.opinions.map((o) => [
            `${o.participantId}${SEP}${poll.roundId}`,
            JSON.stringify({ text: o.text, at: poll.openedAt }),
          ]),
        ),
      );
    }
    await tx.exec();
  }

  /** How many ratings the workspace has: cheap, to decide whether learning is worth it. */
  async count(scope: Scope): Promise<number> {
    return this.redis.hlen(this.keys.ratingsMatrix(scope, 'ratings'));
  }

  /**
   * The matrix, or its latest `maxStatements` statements (by poll open time) with their
   * ratings and the opinions of their rounds: the whole history stays stored (exports
   * read it), while a model fitted on every round need not grow with the workspace's age.
   */
  async load(scope: Scope, maxStatements = 0): Promise<RatingsMatrix> {
    const statementsKey = this.keys.ratingsMatrix(scope, 'statements');
    const ratingsKey = this.keys.ratingsMatrix(scope, 'ratings');
    const opinionsKey = this.keys.ratingsMatrix(scope, 'opinions');
    const [rawStatements, rawRatings, rawOpinions] = await Promise.all([
      this.redis.hgetall(statementsKey),
      this.redis.hgetall(ratingsKey),
      this.redis.hgetall(opinionsKey),
    ]);
    const all = Object.values(rawStatements)
      .map((raw) => decode(MatrixStatementSchema, statementsKey, raw))
      .sort((a, b) => a.at - b.at || a.id.localeCompare(b.id));
    const statements = maxStatements > 0 ? all.slice(-maxStatements) : all;
    const known = new Set(statements.map((s) => s.id));
    const rounds = new Set(statements.map((s) => s.roundId));
    const ratings: MatrixRating[] = [];
    for (const [field, raw] of Object.entries(rawRatings)) {
      const [member, statement] = field.split(SEP);
      if (!member || !statement || !known.has(statement)) continue;
      const r = decode(StoredRatingSchema, ratingsKey, raw);
      ratings.push({ member, statement, approval: r.approval, at: r.at });
    }
    ratings.sort(
      (a, b) =>
        a.at - b.at || a.statement.localeCompare(b.statement) || a.member.localeCompare(b.member),
    );
    const opinions = new Map<string, { text: string; at: number }[]>();
    for (const [field, raw] of Object.entries(rawOpinions)) {
      const [member, roundId] = field.split(SEP);
      if (!member || !roundId || !rounds.has(roundId)) continue;
      const o = decode(StoredOpinionSchema, opinionsKey, raw);
      opinions.set(member, [...(opinions.get(member) ?? []), o]);
    }
    const memberIds = new Set<string>([...opinions.keys(), ...ratings.map((r) => r.member)]);
    const members = [...memberIds].sort().map((id) => ({
      id,
      text: (opinions.get(id) ?? [])
        .sort((a, b) => a.at - b.at)
        .map((o) => o.text)
        .join('\n'),
    }));
    return { members, statements, ratings };
  }
}
