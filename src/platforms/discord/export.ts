/**
 * `/consensus export` as Discord attachments: one round, or with `workspace` every round
 * of the server, always in a reply only the member sees (the whole server's export holds
 * channels they may not be in).
 */
import {
  type ExportFiles,
  POLIS_FOLDER_NOTE,
  roundExportFiles,
  workspaceExportFiles,
} from '../../deliberation/export-files.js';
import type { RoundExport } from '../../deliberation/service.js';
import type { Scope } from '../../domain/scope.js';

/** Discord's attachment size limit before it tells each interaction its own (10 MiB). */
const DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024;

export interface ExportAnswer {
  content: string;
  files?: { name: string; attachment: Buffer }[];
}

export function roundExportAnswer(data: RoundExport, attachmentLimit: number): ExportAnswer {
  return attach(
    roundExportFiles(data),
    `Everything about round \`${data.round.id}\`, as JSON, and in the Polis export layout: ${POLIS_FOLDER_NOTE}.`,
    attachmentLimit,
    `--workspace ${data.round.scope.workspaceId} --round ${data.round.id}`,
  );
}

export function workspaceExportAnswer(
  scope: Scope,
  rounds: readonly RoundExport[],
  attachmentLimit: number,
): ExportAnswer {
  if (rounds.length === 0) return { content: 'This server has no rounds to export yet.' };
  return attach(
    workspaceExportFiles(scope, rounds),
    `Every round of this server (${rounds.length} round${rounds.length === 1 ? '' : 's'}), as JSON, and in the Polis export layout: ${POLIS_FOLDER_NOTE}.`,
    attachmentLimit,
    `--workspace ${scope.workspaceId}`,
  );
}

/**
 * The files as attachments, or, when one is larger than Discord takes (it would refuse
 * the whole reply), the operators' command that writes the same files instead.
 */
function attach(
  files: ExportFiles,
  content: string,
  attachmentLimit: number,
  /** What `npm run export` needs to write the same files. */
  exportArgs: string,
): ExportAnswer {
  const limit =
    Number.isFinite(attachmentLimit) && attachmentLimit > 0
      ? attachmentLimit
      : DEFAULT_ATTACHMENT_LIMIT;
  const all = [files.json, ...files.polis].map((f) => ({
    name: f.name,
    attachment: Buffer.from(f.content),
  }));
  const largest = Math.max(...all.map((f) => f.attachment.length));
  if (largest > limit) {
    return {
      content:
        `This export has a file of ${size(largest)}, more than Discord attaches here (${size(limit)}). ` +
        'The bot’s operator can write the same files with ' +
        `\`npm run export -- --platform discord ${exportArgs} --out <folder>\`.`,
    };
  }
  return { content, files: all };
}

function size(bytes: number): string {
  const mib = 1024 * 1024;
  return bytes >= mib ? `${(bytes / mib).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}
