import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
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
    [['--latency', '-5'], '--port takes 0..65535 and --latency a number of milliseconds'],
  ])('%j is a usage error: exit 2 with one sentence, no stack', (args, message) => {
    const { status, stderr } = fakeCli(...args);
    expect(status).toBe(2);
    expect(stderr.split('\n')[0]).toBe(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('says which port is taken, exit 1 and no stack, when another server holds it', async () => {
    const holder = createServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    try {
      const address = holder.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const { status, stderr } = fakeCli('--port', String(port));
      expect(status).toBe(1);
      expect(stderr.trim()).toBe(
        `port ${port} on 127.0.0.1 is in use; give another with --port (0 = any free one)`,
      );
    } finally {
      holder.close();
    }
  });

  it('--help prints the usage', () => {
    const { status, stdout } = fakeCli('--help');
    expect(status).toBe(0);
    expect(stdout).toContain('Usage: npm run fake:openai -- [--port N] [--latency MS]');
  });
});
