/**
 * The files `/consensus export` hands out, named the same on every platform: the JSON
 * record, and the four Polis CSVs under the names a Polis export folder uses, so that
 * saving them into one folder gives a folder `npm run eval` and Polis tools read as is.
 */
import type { Scope } from '../domain/scope.js';
import { POLIS_EXPORT_FILES, type PolisFile, polisExportFiles } from './polis-export.js';
import type { RoundExport } from './round-export.js';

export interface ExportFile {
  name: string;
  content: string;
}

export interface ExportFiles {
  json: ExportFile;
  /** comments.csv, votes.csv, participants-votes.csv, summary.csv. */
  polis: PolisFile[];
}

/** What to do with the CSVs, in words for the member (Markdown and mrkdwn alike). */
export const POLIS_FOLDER_NOTE =
  `save ${POLIS_EXPORT_FILES.map((f) => `\`${f}\``).join(', ')} into one folder, ` +
  'and `npm run eval -- <folder>` (or any tool that reads Polis exports) reads it';

export function roundExportFiles(data: RoundExport): ExportFiles {
  return {
    json: { name: `round-${data.round.id}.json`, content: `${JSON.stringify(data, null, 2)}\n` },
    polis: polisExportFiles(data.round.scope, [data]),
  };
}

/** Every round of a workspace in one JSON file and one Polis conversation. */
export function workspaceExportFiles(scope: Scope, rounds: readonly RoundExport[]): ExportFiles {
  return {
    json: {
      name: `workspace-${scope.platform}-${scope.workspaceId}.json`,
      content: `${JSON.stringify({ scope, rounds }, null, 2)}\n`,
    },
    polis: polisExportFiles(scope, rounds),
  };
}
