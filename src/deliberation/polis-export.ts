import { stringify } from 'csv-stringify/sync';
import type { Scope } from '../domain/scope.js';
import type { Store } from '../store/store.js';
import type { DeliberationService, RoundExport } from './service.js';

/**
 * A round, or a whole workspace, in the Polis open-data export layout (the four files
 * of docs/EVAL and ../shared/data/polis), so the evaluation and other Polis tools read
 * what the bot collected. Pure: the service gathers the rounds, this writes the CSVs.
 *
 * How the bot's data maps onto Polis:
 * - participants are numbered from 0 in order of first appearance; participant 0 is the
 *   bot, which writes the statements (as a Polis owner seeds comments); `xid` holds the
 *   platform's user id, so rows can be traced back;
 * - comments are the members' opinions (authored by them, no votes: what the evaluation
 *   reads as a member's own words) and every posted statement (one per version), in time
 *   order; all are accepted (`moderated` 1);
 * - votes are each member's latest rating of a statement; an approval above one half is
 *   agree (1), below is disagree (-1), exactly one half is pass (0) — a 7-point rating
 *   keeps only its side;
 * - `group-id` is blank: the bot does not publish opinion groups;
 * - a text a spreadsheet would run as a formula starts with an apostrophe (asText).
 * Opinions carry the round's start time: the store keeps them joined, without a time.
 */

export const POLIS_EXPORT_FILES = [
  'comments.csv',
  'votes.csv',
  'participants-votes.csv',
  'summary.csv',
] as const;
export type PolisFileName = (typeof POLIS_EXPORT_FILES)[number];

export interface PolisFile {
  name: PolisFileName;
  content: string;
}

/** The Polis name of the bot as a participant, in the `xid` column. */
export const BOT_XID = 'consensus-bot';

type Vote = -1 | 0 | 1;

interface Comment {
  id: number;
  authorId: number;
  at: number;
  text: string;
}

interface VoteRow {
  at: number;
  commentId: number;
  voterId: number;
  vote: Vote;
}

export function approvalToVote(approval: number): Vote {
  return approval > 0.5 ? 1 : approval < 0.5 ? -1 : 0;
}

/**
 * A member's key across rounds. An anonymous round's labels (`member-1`, `rater-1`) are
 * numbered per round, so they are kept per round too: two rounds' `member-1` are not one
 * person.
 */
function memberKey(r: RoundExport, participantId: string): string {
  return r.round.settings.anonymous ? `${r.round.id}/${participantId}` : participantId;
}

/**
 * The four files for `rounds` (one round, or every round of a workspace). Every round
 * must belong to `scope`: a workspace's export never mixes in another's data.
 */
export function polisExportFiles(scope: Scope, rounds: readonly RoundExport[]): PolisFile[] {
  for (const r of rounds) {
    if (
      r.round.scope.platform !== scope.platform ||
      r.round.scope.workspaceId !== scope.workspaceId
    ) {
      throw new Error(`round ${r.round.id} belongs to another workspace`);
    }
  }
  const ordered = [...rounds].sort(
    (a, b) => a.round.createdAt - b.round.createdAt || a.round.id.localeCompare(b.round.id),
  );

  // Participant 0 is the bot; members are kept apart from it, whatever their ids.
  const participantOf = new Map<string, number>();
  const participant = (userId: string) => {
    let id = participantOf.get(userId);
    if (id === undefined) {
      id = participantOf.size + 1;
      participantOf.set(userId, id);
    }
    return id;
  };

  const comments: Comment[] = [];
  const votes: VoteRow[] = [];
  const events: { at: number; order: number; add: () => void }[] = [];
  let order = 0;
  for (const r of ordered) {
    for (const o of [...r.opinions].sort((a, b) =>
      a.participantId.localeCompare(b.participantId),
    )) {
      events.push({
        at: r.round.createdAt,
        order: order++,
        add: () =>
          comments.push({
            id: comments.length,
            authorId: participant(memberKey(r, o.participantId)),
            at: r.round.createdAt,
            text: o.text,
          }),
      });
    }
    for (const v of r.versions) {
      const poll = v.poll;
      if (!poll) continue;
      events.push({
        at: poll.openedAt,
        order: order++,
        add: () => {
          const commentId = comments.length;
          comments.push({ id: commentId, authorId: 0, at: poll.openedAt, text: poll.statement });
          for (const rating of [...v.ratings].sort(
            (a, b) => a.at - b.at || a.participantId.localeCompare(b.participantId),
          )) {
            votes.push({
              at: rating.at,
              commentId,
              voterId: participant(memberKey(r, rating.participantId)),
              vote: approvalToVote(rating.approval),
            });
          }
        },
      });
    }
  }
  // Comment ids follow time, as Polis numbers comments in the order they were written.
  events.sort((a, b) => a.at - b.at || a.order - b.order);
  for (const e of events) e.add();
  votes.sort((a, b) => a.at - b.at || a.commentId - b.commentId || a.voterId - b.voterId);

  const agrees = new Map<number, number>();
  const disagrees = new Map<number, number>();
  for (const v of votes) {
    if (v.vote === 1) agrees.set(v.commentId, (agrees.get(v.commentId) ?? 0) + 1);
    if (v.vote === -1) disagrees.set(v.commentId, (disagrees.get(v.commentId) ?? 0) + 1);
  }

  const commentsCsv = csv(
    [
      'timestamp',
      'datetime',
      'comment-id',
      'author-id',
      'agrees',
      'disagrees',
      'moderated',
      'comment-body',
    ],
    comments.map((c) => [
      c.at,
      polisDatetime(c.at),
      c.id,
      c.authorId,
      agrees.get(c.id) ?? 0,
      disagrees.get(c.id) ?? 0,
      1,
      asText(c.text),
    ]),
  );
  const votesCsv = csv(
    ['timestamp', 'datetime', 'comment-id', 'voter-id', 'vote'],
    votes.map((v) => [v.at, polisDatetime(v.at), v.commentId, v.voterId, v.vote]),
  );

  const byParticipant = new Map<number, Map<number, Vote>>();
  for (const v of votes) {
    const row = byParticipant.get(v.voterId) ?? new Map<number, Vote>();
    row.set(v.commentId, v.vote);
    byParticipant.set(v.voterId, row);
  }
  const authored = new Map<number, number>();
  for (const c of comments) authored.set(c.authorId, (authored.get(c.authorId) ?? 0) + 1);
  const participantsCsv = csv(
    [
      'participant',
      'xid',
      'group-id',
      'n-comments',
      'n-votes',
      'n-agree',
      'n-disagree',
      ...comments.map((c) => c.id),
    ],
    [[BOT_XID, 0] as const, ...participantOf.entries()].map(([xid, id]) => {
      const row = byParticipant.get(id) ?? new Map<number, Vote>();
      const values = [...row.values()];
      return [
        id,
        asText(xid),
        '',
        authored.get(id) ?? 0,
        values.length,
        values.filter((v) => v === 1).length,
        values.filter((v) => v === -1).length,
        ...comments.map((c) => row.get(c.id) ?? ''),
      ];
    }),
  );

  const voters = byParticipant.size;
  const summaryCsv = csv(null, [
    ['topic', asText(topicOf(scope, ordered))],
    ['url', ''],
    ['views', participantOf.size],
    ['voters', voters],
    ['voters-in-conv', voters],
    ['commenters', authored.size],
    ['comments', comments.length],
    ['groups', 0],
    ['conversation-description', asText(descriptionOf(scope, ordered))],
  ]);

  return [
    { name: 'comments.csv', content: commentsCsv },
    { name: 'votes.csv', content: votesCsv },
    { name: 'participants-votes.csv', content: participantsCsv },
    { name: 'summary.csv', content: summaryCsv },
  ];
}

/** More rounds than any workspace holds: a workspace export takes all of them. */
const ALL_ROUNDS = 1_000_000;

/** One round's export, or every round of the workspace (`roundId` null), oldest first. */
export async function collectRoundExports(
  deps: { service: Pick<DeliberationService, 'exportById'>; store: Pick<Store, 'rounds'> },
  scope: Scope,
  roundId: string | null,
): Promise<RoundExport[]> {
  const ids =
    roundId !== null
      ? [roundId]
      : (await deps.store.rounds.recent(scope, ALL_ROUNDS)).map((r) => r.id).reverse();
  const exports: RoundExport[] = [];
  for (const id of ids) exports.push(await deps.service.exportById(scope, id));
  return exports;
}

function csv(header: readonly (string | number)[] | null, rows: readonly (string | number)[][]) {
  const all = header === null ? rows : [header, ...rows];
  // Quote only where needed (commas, quotes, line breaks), as Polis exports do. A bare CR
  // is a line break too for csv readers (ours, Python's) but not for csv-stringify, which
  // would leave it unquoted and so split the row: members' texts keep theirs verbatim.
  return stringify(
    all.map((row) => row.map(String)),
    { record_delimiter: '\n', quoted_match: /\r/ },
  );
}

/**
 * Members' words as a spreadsheet keeps them: a cell that begins with `=`, `+`, `-`, `@`,
 * a tab or a carriage return is a formula to Excel, LibreOffice and Google Sheets (quoted
 * or not), so an opinion such as `=HYPERLINK(...)` would run in the moderator's sheet.
 * Such a text gets a leading apostrophe, the spreadsheets' own mark for "this is text"
 * (OWASP's advice for CSV injection). Only these cells change; the JSON keeps the text.
 */
export function asText(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

function topicOf(scope: Scope, rounds: readonly RoundExport[]): string {
  const [only] = rounds;
  if (rounds.length === 1 && only) return only.round.question;
  return `${rounds.length} rounds in ${scope.platform} workspace ${scope.workspaceId}`;
}

function descriptionOf(scope: Scope, rounds: readonly RoundExport[]): string {
  const questions = rounds.map((r) => `round ${r.round.id}: ${r.round.question}`).join('\n');
  return `Exported by consensus-bot from ${scope.platform} workspace ${scope.workspaceId}.${questions ? `\n${questions}` : ''}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Polis's `datetime` column ("Wed Jul 27 22:09:49 WIB 2022"), in UTC. */
export function polisDatetime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}
