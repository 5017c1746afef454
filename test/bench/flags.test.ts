import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** Runs `npm run bench -- <args>` as node does; a flag error must end it before any work. */
function bench(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    // A bench that starts anyway (builds, starts Redis) is stopped here and fails below.
    timeout: 15_000,
    killSignal: 'SIGKILL',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run bench flags', () => {
  it('--help lists every flag with its default', () => {
    const { status, stdout } = bench('--help');
    expect(status).toBe(0);
    expect(stdout).toMatch(/--latency ms\s+default 500/);
    expect(stdout).toMatch(/--warmup n\s+default 10/);
    expect(stdout).toMatch(/--slack-seconds s\s+default 5/);
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['--latency'], "Option '--latency <value>' argument missing"],
    [['--latency', 'abc'], '--latency takes a number from 0 (ms); got "abc"'],
    [['--latency', '-5'], '--latency takes a number from 0 (ms); got "-5"'],
    [['--runs', '0'], '--runs takes a whole number from 1; got "0"'],
    [['--concurrency', '300'], '--concurrency takes a whole number from 1 to 256; got "300"'],
    [['--seq-latency', '0'], '--seq-latency takes a number from 1 (ms); got "0"'],
  ])('%j is a usage error: exit 2, one sentence and the usage, no stack', (args, message) => {
    const { status, stderr } = bench(...args);
    expect(status).toBe(2);
    expect(stderr.split('\n')[0]).toBe(message);
    expect(stderr).toContain('Usage: npm run bench -- [options]');
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
