import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  COMMENTS_HEADER,
  EVAL_JSON_KEYS,
  PARTICIPANTS_HEADER,
  SUMMARY,
  VOTES_HEADER,
  writeExport,
} from '../eval/helpers.js';
import { runWithClosedOutput } from '../support/closed-output.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = 'test/fixtures/polis/london.youth.policing';

function runEval(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/app/eval.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run eval', () => {
  it('exits 0 without a stack trace when the reader of its output is gone (`| head`)', async () => {
    const { code, output } = await runWithClosedOutput('src/app/eval.ts', [FIXTURE]);
    expect(output).not.toMatch(/EPIPE|Error/);
    expect(code).toBe(0);
  }, 60_000);

  it('still exits 1 for a bad folder when the reader of its errors is gone', async () => {
    const { code } = await runWithClosedOutput('src/app/eval.ts', ['no/such/folder'], 'stderr');
    expect(code).toBe(1);
  }, 60_000);

  it('prints exactly the JSON of EVAL.md section 5 with --json, typed as EVAL.md gives it', () => {
    // Through npm itself: its "> script" banner would come first on stdout (.npmrc).
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^npm_config_loglevel$/i.test(name)),
    );
    const run = spawnSync('npm', ['run', 'eval', '--', FIXTURE, '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env,
    });
    expect(run.status).toBe(0);
    const rows = JSON.parse(run.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => r.method)).toEqual([
      'comment mean',
      'Polis groups',
      'voter mean',
      'MF one-factor',
      'model',
    ]);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual(EVAL_JSON_KEYS);
    }
  });

  it('adds the bootstrap spread after the table with --bootstrap', () => {
    const run = runEval([FIXTURE, '--bootstrap', '30']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('model vs best baseline:');
    expect(run.stdout).toContain('(30 paired bootstrap resamples)');
    expect(run.stdout).toMatch(/london\.youth\.policing\s+D_auc\s+\S+.*%/);
  });

  it.each([
    [['--bootstrap', '0', FIXTURE], /--bootstrap takes a whole number/],
    [['--bootstrap', 'many', FIXTURE], /--bootstrap takes a whole number/],
    [['--bootstrap', '0x10', FIXTURE], /--bootstrap takes a whole number/],
    [['--bootstrap', '1e3', FIXTURE], /--bootstrap takes a whole number/],
    // After a space a negative value reads to parseArgs as another option.
    [['--bootstrap', '-5', FIXTURE], /--bootstrap takes a whole number/],
    [['--json', '--json', FIXTURE], /--json is given twice: give it once/],
    [['--bootstrap', '20', '--json', FIXTURE], /does not combine with --json/],
    [[], /no conversation folder given/],
    [['--frobnicate', FIXTURE], /Unknown option/],
  ])('refuses %j with a usage message and exit code 2', (args, message) => {
    const run = runEval(args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain('usage: npm run eval');
    expect(run.stdout).toBe('');
  });

  it('tells on stderr of votes it left out, and still prints the JSON', () => {
    const folder = writeExport('unlisted', {
      comments: `${COMMENTS_HEADER}\n1,d,0,5,0,0,1,One\n2,d,1,6,0,0,1,Two`,
      votes: `${VOTES_HEADER}\n10,d,0,1,1\n11,d,1,2,-1\n12,d,7,2,1\n`,
      participants: `${PARTICIPANTS_HEADER}\n1,0,0,0,0,0\n2,,0,0,0,0`,
      summary: SUMMARY,
    });
    const run = runEval([folder, '--json']);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(
      /^eval: .*votes\.csv: left out 1 vote on comment-ids that comments\.csv does not list \(first: line 4, comment-id 7\)\n$/,
    );
    expect((JSON.parse(run.stdout) as unknown[]).length).toBe(5);
  });

  it('refuses one folder given twice under two spellings, as rows are keyed by its name', () => {
    const run = runEval([FIXTURE, `${FIXTURE}/.`, '--json']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/two folders share the name london\.youth\.policing/);
    expect(run.stdout).toBe('');
  });

  it('names the missing file of an incomplete export and exits 1', () => {
    const run = runEval(['test/fixtures/polis']);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/comments\.csv/);
  });
});
