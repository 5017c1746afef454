import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  collectRoundExports,
  type PolisFile,
  polisExportFiles,
} from '../deliberation/polis-export.js';
import { roundExport } from '../deliberation/round-export.js';
import type { DeliberationService } from '../deliberation/service.js';
import { DomainError } from '../domain/errors.js';
import { KeySafeIdSchema, type Scope } from '../domain/scope.js';
import { createStore, type Store } from '../store/store.js';
import { onceEach, parsedOrStatus } from './cli-args.js';
import { connectToBotRedis, runAsScript, workspaceFromFlags } from './workspace-cli.js';

/**
 * `npm run export -- --platform slack --workspace T123 [--round ID] --out DIR`: writes a
 * round, or the whole workspace, in the Polis export layout (src/deliberation/polis-export.ts)
 * so `npm run eval -- DIR` and other Polis tools read it.
 */

const USAGE =
  'usage: npm run export -- --platform slack|discord|console --workspace ID [--round ID] --out DIR';

export interface ExportDeps {
  service: Pick<DeliberationService, 'exportById'>;
  store: Pick<Store, 'rounds'>;
}

/**
 * Writes the four CSV files into `outDir` (created if missing); returns what was written.
 * A workspace with no rounds writes nothing, as `/consensus export all` posts nothing.
 */
export async function writePolisExport(
  deps: ExportDeps,
  scope: Scope,
  roundId: string | null,
  outDir: string,
): Promise<{ rounds: number; files: PolisFile[] }> {
  const rounds = await collectRoundExports(deps, scope, roundId);
  if (rounds.length === 0) return { rounds: 0, files: [] };
  const files = polisExportFiles(scope, rounds);
  mkdirSync(outDir, { recursive: true });
  for (const file of files) writeFileSync(join(outDir, file.name), file.content);
  return { rounds: rounds.length, files };
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parsedOrStatus(argv, parse, USAGE);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const scope = workspaceFromFlags('export', values, USAGE, { out: values.out });
  if (!scope.ok) {
    process.stderr.write(`${scope.message}\n`);
    return scope.status;
  }
  // A round id is part of a key: one that cannot be a round's (`r1:poll:1`) would read
  // another kind of key and fail as a stack trace, as the service's own commands refuse it.
  if (values.round === '') {
    process.stderr.write(
      `export: --round is empty: give a round id, or leave --round out to export the whole workspace\n${USAGE}\n`,
    );
    return 2;
  }
  if (values.round !== undefined) {
    const round = KeySafeIdSchema.safeParse(values.round);
    if (!round.success) {
      process.stderr.write(`export: --round: ${round.error.issues[0]?.message}\n${USAGE}\n`);
      return 2;
    }
  }
  // The four files go into a folder: a path that is a file (or lies under one) cannot be
  // it, and is refused as a bad flag before Redis is read, not as a stack trace after.
  const out = resolve(values.out ?? '');
  const blocking = fileOnPath(out);
  if (blocking !== null) {
    process.stderr.write(
      `export: --out: ${blocking} is a file, not a folder; give a folder (created if missing)\n${USAGE}\n`,
    );
    return 2;
  }
  const connected = await connectToBotRedis('export', "the export reads the bot's Redis");
  if (!connected.ok) {
    process.stderr.write(`${connected.message}\n`);
    return connected.status;
  }
  const { config, redis } = connected.value;
  try {
    // Reads only: no queues, so the export leaves nothing behind in the bot's Redis.
    const store = createStore(redis, config.REDIS_PREFIX);
    const service = {
      exportById: async (scope: Scope, roundId: string) =>
        roundExport(store, await store.rounds.require(scope, roundId)),
    };
    const { rounds, files } = await writePolisExport(
      { service, store },
      scope.value,
      values.round ?? null,
      out,
    );
    if (rounds === 0) {
      process.stderr.write(
        `export: ${scope.value.platform} workspace ${scope.value.workspaceId} has no rounds to export yet; nothing written\n`,
      );
      return 1;
    }
    process.stdout.write(
      `wrote ${files.map((f) => f.name).join(', ')} (${rounds} round${rounds === 1 ? '' : 's'}) to ${out}\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof DomainError) {
      process.stderr.write(`export: ${error.message}\n`);
      return 1;
    }
    // A folder that cannot be created or written (permissions, a full disk): said in the
    // system's words, which name the path, without the stack.
    if (isFileSystemError(error)) {
      process.stderr.write(`export: could not write the export to ${out}: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    redis.disconnect();
  }
}

/** The first path from `path` up that exists and is not a folder, or null. */
function fileOnPath(path: string): string | null {
  for (let at = path; ; at = dirname(at)) {
    if (existsSync(at)) return statSync(at).isDirectory() ? null : at;
    if (dirname(at) === at) return null;
  }
}

function isFileSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: onceEach(argv),
    options: {
      platform: { type: 'string' },
      workspace: { type: 'string' },
      round: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

runAsScript(import.meta.url, 'export', main);
