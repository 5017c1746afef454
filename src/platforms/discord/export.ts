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

/**
 * Discord refuses a whole request past this (413, code 40005), however small each file:
 * 25 MB, the lowest figure given for it (@sapphire/discord-utilities' MaximumRequestSize).
 */
export const MAX_REQUEST_BYTES = 25_000_000;

/**
 * The multipart request holds more than the files: the message as JSON (a few hundred
 * bytes here) and each part's headers and boundary.
 */
const REQUEST_OVERHEAD_BYTES = 16 * 1024;

export interface ExportLimits {
  /** The interaction's attachment_size_limit: the largest file Discord takes here. */
  attachmentLimit: number;
  /** The largest request; default MAX_REQUEST_BYTES. */
  requestLimit?: number;
}

export interface ExportAnswer {
  content: string;
  files?: { name: string; attachment: Buffer }[];
  /** What to say instead if Discord refuses the files as too large after all (413). */
  ifFilesRefused?: string;
}

export function roundExportAnswer(data: RoundExport, limits: ExportLimits): ExportAnswer {
  return attach(
    roundExportFiles(data),
    `Everything about round \`${data.round.id}\`, as JSON, and in the Polis export layout: ${POLIS_FOLDER_NOTE}.`,
    limits,
    `--workspace ${data.round.scope.workspaceId} --round ${data.round.id}`,
  );
}

export function workspaceExportAnswer(
  scope: Scope,
  rounds: readonly RoundExport[],
  limits: ExportLimits,
): ExportAnswer {
  if (rounds.length === 0) return { content: 'This server has no rounds to export yet.' };
  return attach(
    workspaceExportFiles(scope, rounds),
    `Every round of this server (${rounds.length} round${rounds.length === 1 ? '' : 's'}), as JSON, and in the Polis export layout: ${POLIS_FOLDER_NOTE}.`,
    limits,
    `--workspace ${scope.workspaceId}`,
  );
}

/**
 * The files as attachments, or, when one is larger than Discord takes or all of them
 * together are (it would refuse the whole reply, and the member would see only
 * "thinking…"), the operators' command that writes the same files instead.
 */
function attach(
  files: ExportFiles,
  content: string,
  limits: ExportLimits,
  /** What `npm run export` needs to write the same files. */
  exportArgs: string,
): ExportAnswer {
  const limit = positiveOr(limits.attachmentLimit, DEFAULT_ATTACHMENT_LIMIT);
  const requestLimit = positiveOr(limits.requestLimit, MAX_REQUEST_BYTES);
  const all = [files.json, ...files.polis].map((f) => ({
    name: f.name,
    attachment: Buffer.from(f.content),
  }));
  // The image has no TypeScript sources (nor tsx) for `npm run`: its compiled CLI instead.
  const hint =
    'The bot’s operator can write the same files with ' +
    `\`npm run export -- --platform discord ${exportArgs} --out <folder>\` ` +
    `(from the Docker image: \`node dist/app/export.js --platform discord ${exportArgs} --out <folder>\`).`;
  const largest = Math.max(...all.map((f) => f.attachment.length));
  if (largest > limit) {
    return {
      content: `This export has a file of ${size(largest)}, more than Discord attaches here (${size(limit)}). ${hint}`,
    };
  }
  const total = all.reduce((sum, f) => sum + f.attachment.length, 0);
  if (total + REQUEST_OVERHEAD_BYTES > requestLimit) {
    return {
      content: `This export’s files come to ${size(total)} together, more than Discord takes in one reply (${size(requestLimit)}). ${hint}`,
    };
  }
  return {
    content,
    files: all,
    ifFilesRefused: `Discord refused this export’s files (${size(total)} together) as too large for one reply. ${hint}`,
  };
}

function positiveOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Decimal units, as Discord states its limits ("25 MB"). */
function size(bytes: number): string {
  return bytes >= 1_000_000
    ? `${(bytes / 1_000_000).toFixed(1)} MB`
    : `${Math.ceil(bytes / 1000)} KB`;
}
