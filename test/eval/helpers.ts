import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

export const COMMENTS_HEADER =
  'timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body';
export const VOTES_HEADER = 'timestamp,datetime,comment-id,voter-id,vote';
export const PARTICIPANTS_HEADER = 'participant,group-id,n-comments,n-votes,n-agree,n-disagree';
export const SUMMARY = 'topic,Test\n';

/** EVAL.md section 5: the keys of every `--json` row, in order. */
export const EVAL_JSON_KEYS = [
  'conversation',
  'method',
  'A_auc',
  'B_rho',
  'B_regret',
  'B_n',
  'C_rho',
  'C_n',
  'D_auc',
  'D_rho',
  'D_n',
  'fit_ms',
];

export interface ExportFiles {
  comments: string | null;
  votes: string | null;
  participants: string | null;
  summary: string | null;
}

/**
 * Writes a conversation in the Polis export layout into a fresh folder, removed when the
 * calling test ends; null leaves a file out.
 */
export function writeExport(name: string, files: ExportFiles): string {
  const root = mkdtempSync(join(tmpdir(), 'polis-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  const folder = join(root, name);
  mkdirSync(folder);
  const entries: [string, string | null][] = [
    ['comments.csv', files.comments],
    ['votes.csv', files.votes],
    ['participants-votes.csv', files.participants],
    ['summary.csv', files.summary],
  ];
  for (const [file, text] of entries) if (text !== null) writeFileSync(join(folder, file), text);
  return folder;
}

/** A synthetic export: `votes[voter][comment]` in {-1, 0, 1} or null (not voted). */
export function syntheticExport(
  name: string,
  texts: readonly string[],
  votes: readonly (readonly (number | null)[])[],
  groups: readonly string[] = [],
): string {
  const comments = texts.map((t, c) => `${c},d,${c},0,0,0,1,"${t.replaceAll('"', '""')}"`);
  const rows: string[] = [];
  votes.forEach((row, u) => {
    row.forEach((v, c) => {
      if (v !== null) rows.push(`${1000 + rows.length},d,${c},${u},${v}`);
    });
  });
  const participants = votes.map((_, u) => `${u},${groups[u] ?? ''},0,0,0,0`);
  return writeExport(name, {
    comments: [COMMENTS_HEADER, ...comments].join('\n'),
    votes: [VOTES_HEADER, ...rows].join('\n'),
    participants: [PARTICIPANTS_HEADER, ...participants].join('\n'),
    summary: SUMMARY,
  });
}
