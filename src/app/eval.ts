import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { conversationSpread, formatSpread, type SpreadLine } from '../eval/bootstrap.js';
import { CsvError } from '../eval/csv.js';
import { loadConversation, PolisInputError } from '../eval/polis.js';
import type { Row } from '../eval/protocol.js';
import { formatTable, meanRows, scoreConversation, targetReport, toJson } from '../eval/table.js';
import { joinValues, onceEach, parsedOrStatus } from './cli-args.js';
import { onClosedOutput } from './closed-output.js';

const USAGE = 'usage: npm run eval -- <polis-export-folder>... [--json | --bootstrap <resamples>]';
const MAX_RESAMPLES = 100_000;

function main(argv: readonly string[]): number {
  const parsed = parsedOrStatus(argv, parse, USAGE);
  if (typeof parsed === 'number') return parsed;
  let resamples = 0;
  if (parsed.values.bootstrap !== undefined) {
    // Digits only: Number() would also read "1e3", "0x10" and " 3".
    const text = parsed.values.bootstrap;
    const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_RESAMPLES) {
      process.stderr.write(
        `--bootstrap takes a whole number of resamples from 1 to ${MAX_RESAMPLES}\n${USAGE}\n`,
      );
      return 2;
    }
    if (parsed.values.json) {
      // The JSON output is exactly EVAL.md's array; the spread has no place in it.
      process.stderr.write(
        `--bootstrap prints a table and does not combine with --json\n${USAGE}\n`,
      );
      return 2;
    }
    resamples = n;
  }
  if (parsed.positionals.length === 0) {
    process.stderr.write(`no conversation folder given\n${USAGE}\n`);
    return 2;
  }
  // A shell glob over the data folder also matches its README: files that exist but are
  // not folders are skipped with a note; a path that does not exist is an error.
  const folders = parsed.positionals.filter((path) => {
    if (existsSync(path) && !statSync(path).isDirectory()) {
      process.stderr.write(`eval: skipping ${path} (not a folder)\n`);
      return false;
    }
    return true;
  });
  if (folders.length === 0) {
    process.stderr.write(`no conversation folder among the arguments\n${USAGE}\n`);
    return 2;
  }
  // The name the rows get: the loader's (the resolved folder's last segment), so that
  // `x/.` or `x/sub/..` and `x` are seen as the same conversation.
  const names = folders.map((f) => basename(resolve(f)));
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) {
    process.stderr.write(
      `two folders share the name ${duplicate}; rows are keyed by folder name\n`,
    );
    return 2;
  }
  const rows: Row[] = [];
  const spread: SpreadLine[] = [];
  for (const folder of folders) {
    try {
      const conversation = loadConversation(folder);
      for (const note of conversation.notes) process.stderr.write(`eval: ${note}\n`);
      const scored = scoreConversation(conversation);
      rows.push(...scored.map((s) => s.row));
      if (resamples > 0) spread.push(...conversationSpread(scored, resamples));
    } catch (error) {
      if (error instanceof CsvError || error instanceof PolisInputError) {
        process.stderr.write(`eval: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  }
  if (parsed.values.json) {
    process.stdout.write(`${toJson(rows)}\n`);
  } else {
    process.stdout.write(`${formatTable([...rows, ...meanRows(rows)])}\n\n`);
    process.stdout.write(`model vs best baseline:\n${targetReport(rows).join('\n')}\n`);
    if (resamples > 0) process.stdout.write(`\n${formatSpread(spread, resamples)}\n`);
  }
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: onceEach(joinValues(argv, new Set(['bootstrap']))),
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      bootstrap: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

onClosedOutput((code) => process.exit(code), { stopWhenClosed: false });
process.exitCode = main(process.argv.slice(2));
