import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

/** `npm run fake:openai -- <args>` as npm runs it; a flag error ends it before it listens. */
function fakeCli(...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'test/fakes/openai-cli.ts', ...args],
    { cwd: ROOT, encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL' },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run fake:openai flags', () => {
  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['--port'], "Option '--port <value>' argument missing"],
    [['--port', '70000'], '--port takes 0..65535 and --latency a number of milliseconds'],
  ])('%j is a usage error: exit 2 with one sentence, no stack', (args, message) => {
    const { status, stderr } = fakeCli(...args);
    expect(status).toBe(2);
    expect(stderr.split('\n')[0]).toBe(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('--help prints the usage', () => {
    const { status, stdout } = fakeCli('--help');
    expect(status).toBe(0);
    expect(stdout).toContain('Usage: npm run fake:openai -- [--port N] [--latency MS]');
  });
});
