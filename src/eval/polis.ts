import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { CsvError, type CsvRecord, parseCsv } from './csv.js';

/**
 * Loads one conversation in the Polis open-data export layout (EVAL.md section 1):
 * comments.csv, votes.csv and participants-votes.csv, and summary.csv when there is one.
 */

/** The files EVAL.md reads; summary.csv (the topic) is read when present. */
export const POLIS_FILES = ['comments.csv', 'votes.csv', 'participants-votes.csv'] as const;

export type Vote = -1 | 0 | 1;

export interface PolisComment {
  id: string;
  authorId: string;
  text: string;
}

export interface PolisVote {
  voterId: string;
  commentId: string;
  vote: Vote;
}

export interface Conversation {
  /** The folder's name. */
  name: string;
  topic: string | null;
  /** Comments kept (moderated != -1), in file order. */
  comments: PolisComment[];
  /** The latest vote per (voter, comment) on kept comments, in order of first appearance. */
  votes: PolisVote[];
  /** Every participant listed in participants-votes.csv, in file order. */
  participants: string[];
  /** Participant -> Polis group-id, for participants with a non-blank group. */
  groups: Map<string, string>;
  /** What the loader left out of well-formed files, and why, for the reader to be told. */
  notes: string[];
}

export class PolisInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolisInputError';
  }
}

// Ids are compared as the decimal strings of the file (the split hashes them), so they
// are kept as strings, but must at least be present and free of padding.
const Id = z.string().regex(/^\S+$/, 'must be a non-empty id without spaces');
const Timestamp = z
  .string()
  .regex(/^-?\d+(\.\d+)?$/, 'must be a number')
  .transform(Number);

const CommentRow = z.object({
  'comment-id': Id,
  // Blank is an unknown author: only the model's authorship features read it, and a
  // comment without one still has its votes and text to evaluate on.
  'author-id': z.string().regex(/^\S*$/, 'must be an id without spaces, or blank'),
  // Blank is read as unmoderated: EVAL.md drops only -1.
  moderated: z.enum(['-1', '0', '1', ''], { message: 'moderated must be -1, 0, 1 or blank' }),
  'comment-body': z.string(),
});

const VoteRow = z.object({
  timestamp: Timestamp,
  'comment-id': Id,
  'voter-id': Id,
  vote: z.enum(['-1', '0', '1'], { message: 'unknown vote value (expected -1, 0 or 1)' }),
});

const ParticipantRow = z.object({
  participant: Id,
  'group-id': z.union([z.literal(''), Id]),
});

interface Table {
  file: string;
  rows: { line: number; values: Record<string, string> }[];
}

function readTable(folder: string, name: string, required: readonly string[]): Table {
  const file = join(folder, name);
  const records = parseCsv(readFileSync(file, 'utf8'), file).filter(
    (r) => !(r.fields.length === 1 && r.fields[0] === ''),
  );
  const header = records[0];
  if (header === undefined) throw new CsvError(file, 1, 'the file is empty (no header row)');
  for (const column of required) {
    if (!header.fields.includes(column)) {
      throw new CsvError(file, header.line, `missing column "${column}"`);
    }
  }
  const rows = records.slice(1).map((record) => toRow(file, header, record));
  return { file, rows };
}

function toRow(file: string, header: CsvRecord, record: CsvRecord) {
  if (record.fields.length !== header.fields.length) {
    throw new CsvError(
      file,
      record.line,
      `malformed row: ${record.fields.length} fields where the header has ${header.fields.length}`,
    );
  }
  const values: Record<string, string> = {};
  header.fields.forEach((column, k) => {
    values[column] = record.fields[k] ?? '';
  });
  return { line: record.line, values };
}

function parseRow<T extends z.ZodType>(
  schema: T,
  table: Table,
  row: Table['rows'][number],
): z.infer<T> {
  const parsed = schema.safeParse(row.values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const column = issue?.path.join('.') ?? '';
    const value = row.values[column];
    throw new CsvError(
      table.file,
      row.line,
      `${column}: ${issue?.message ?? 'invalid'}${value === undefined ? '' : ` (got "${value}")`}`,
    );
  }
  return parsed.data;
}

export function loadConversation(folderPath: string): Conversation {
  const folder = resolve(folderPath);
  if (!existsSync(folder)) throw new PolisInputError(`${folderPath}: does not exist`);
  if (!statSync(folder).isDirectory()) throw new PolisInputError(`${folderPath}: not a folder`);
  const missing = POLIS_FILES.filter((f) => !existsSync(join(folder, f)));
  if (missing.length > 0) {
    throw new PolisInputError(
      `${folderPath}: missing ${missing.join(', ')} (a Polis export folder holds ${POLIS_FILES.join(', ')})`,
    );
  }
  const notFiles = POLIS_FILES.filter((f) => !statSync(join(folder, f)).isFile());
  if (notFiles.length > 0) {
    throw new PolisInputError(`${notFiles.map((f) => join(folderPath, f)).join(', ')}: not a file`);
  }

  const commentsTable = readTable(folder, 'comments.csv', [
    'comment-id',
    'author-id',
    'moderated',
    'comment-body',
  ]);
  const comments: PolisComment[] = [];
  const rejected = new Set<string>();
  const seen = new Set<string>();
  for (const row of commentsTable.rows) {
    const c = parseRow(CommentRow, commentsTable, row);
    if (seen.has(c['comment-id'])) {
      throw new CsvError(commentsTable.file, row.line, `duplicate comment-id ${c['comment-id']}`);
    }
    seen.add(c['comment-id']);
    if (c.moderated === '-1') rejected.add(c['comment-id']);
    else comments.push({ id: c['comment-id'], authorId: c['author-id'], text: c['comment-body'] });
  }

  const votesTable = readTable(folder, 'votes.csv', [
    'timestamp',
    'comment-id',
    'voter-id',
    'vote',
  ]);
  const latest = new Map<string, { vote: PolisVote; timestamp: number }>();
  // A vote on a comment comments.csv does not list (an export whose files were written at
  // different times) has no text or author to evaluate on: left out, as a rejected
  // comment's votes are, and said so, rather than losing the whole conversation.
  let unlisted = 0;
  let firstUnlisted = '';
  for (const row of votesTable.rows) {
    const v = parseRow(VoteRow, votesTable, row);
    const commentId = v['comment-id'];
    if (!seen.has(commentId)) {
      unlisted += 1;
      if (unlisted === 1) firstUnlisted = `line ${row.line}, comment-id ${commentId}`;
      continue;
    }
    if (rejected.has(commentId)) continue;
    const key = `${v['voter-id']}:${commentId}`;
    const previous = latest.get(key);
    // ">=": on equal timestamps the later row in the file wins (EVAL.md 1).
    if (previous === undefined || v.timestamp >= previous.timestamp) {
      const vote: PolisVote = { voterId: v['voter-id'], commentId, vote: Number(v.vote) as Vote };
      if (previous === undefined) latest.set(key, { vote, timestamp: v.timestamp });
      else {
        previous.vote = vote;
        previous.timestamp = v.timestamp;
      }
    }
  }

  const participantsTable = readTable(folder, 'participants-votes.csv', [
    'participant',
    'group-id',
  ]);
  const participants: string[] = [];
  const groups = new Map<string, string>();
  for (const row of participantsTable.rows) {
    const p = parseRow(ParticipantRow, participantsTable, row);
    participants.push(p.participant);
    if (p['group-id'] !== '') groups.set(p.participant, p['group-id']);
  }

  // Only the topic comes from it, and no task needs that: a folder without one is read,
  // and so is one whose summary.csv does not parse (the reader is told, the topic is null).
  const summaryFile = join(folder, 'summary.csv');
  let topic: string | null = null;
  const notes: string[] = [];
  const summaryIsFile = existsSync(summaryFile) && statSync(summaryFile).isFile();
  if (existsSync(summaryFile) && !summaryIsFile) {
    notes.push(`${summaryFile}: not a file (the topic is not read; no task uses it)`);
  }
  const summary = summaryIsFile ? readFileSync(summaryFile, 'utf8') : '';
  try {
    for (const record of parseCsv(summary, summaryFile)) {
      if (record.fields[0] === 'topic') topic = record.fields[1] ?? null;
    }
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    topic = null;
    notes.push(`${error.message} (the topic is not read; no task uses it)`);
  }
  if (unlisted > 0) {
    notes.push(
      `${votesTable.file}: left out ${unlisted} vote${unlisted === 1 ? '' : 's'} on comment-ids that comments.csv does not list (first: ${firstUnlisted})`,
    );
  }

  return {
    name: basename(folder),
    topic,
    comments,
    votes: [...latest.values()].map((entry) => entry.vote),
    participants,
    groups,
    notes,
  };
}
