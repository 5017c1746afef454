import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** A fresh folder under the system's temp dir, removed when the test ends. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function runDemo(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/app/demo.ts', ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run demo', () => {
  it('plays a whole round offline and exits 0', () => {
    const env = { ...process.env, REDIS_URL: '', LOG_LEVEL: 'warn' };
    const run = runDemo(['--scenario', 'four-day-week', '--seed', '3'], env);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Should our team adopt a four-day week?');
    expect(run.stdout).toMatch(/Statement \(version 1\)/);
    expect(run.stdout).toMatch(/Predicted approval per member:/);
    expect(run.stdout).toMatch(/📊 Results/);
    expect(run.stdout).toMatch(/least served/);
    // The critique round: critiques, a revised statement and results for both versions.
    expect(run.stdout).toMatch(/✍️ {2}\S+: It leaves out what matters most to me/);
    expect(run.stdout).toMatch(/Statement \(version 2\)/);
    expect(run.stdout).toMatch(/Version 1:[\s\S]*Version 2:/);
  });

  it('replays the same statements for the same --seed', () => {
    const env = { ...process.env, REDIS_URL: '', LOG_LEVEL: 'warn' };
    // Each statement as posted, with how it was chosen (versions 1 and 2).
    const statements = (stdout: string) =>
      [...stdout.matchAll(/🗳 {2}Statement[\s\S]*?Chosen from[^\n]*/g)].map((m) => m[0]);
    const first = runDemo(['--seed', '7'], env);
    const second = runDemo(['--seed', '7'], env);
    expect(first.status).toBe(0);
    expect(second.status).toBe(0);
    expect(statements(first.stdout)).toHaveLength(2);
    expect(statements(second.stdout)).toEqual(statements(first.stdout));
  });

  it('says how to get a Redis and exits non-zero when there is none', () => {
    // A PATH with node but without redis-server.
    const bin = tempDir('no-redis-');
    symlinkSync(process.execPath, join(bin, 'node'));
    const run = runDemo([], { ...process.env, REDIS_URL: '', PATH: bin });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/REDIS_URL is unset and no `redis-server` is on PATH/);
    expect(run.stderr).toMatch(/apt-get install redis-server/);
  });

  it('rejects unknown flags with the usage text', () => {
    const run = runDemo(['--nope'], { ...process.env, REDIS_URL: '' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/Usage: npm run demo/);
  });

  it.each([
    [['--welfare', 'fair'], /--welfare takes one of utilitarian, egalitarian, nash, schulze/],
    [['--scenario', 'nope'], /Unknown scenario "nope"/],
  ])('says what is wrong with %j, exits 2 and starts no Redis', (args, message) => {
    const tmp = tempDir('demo-tmp-');
    const run = runDemo(args, { ...process.env, REDIS_URL: '', TMPDIR: tmp });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(readdirSync(tmp).filter((d) => d.startsWith('dlb-redis-'))).toEqual([]);
  });

  it('stops its throwaway Redis when interrupted', async () => {
    const tmp = tempDir('demo-tmp-');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/demo.ts'], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: '', TMPDIR: tmp },
    });
    let out = '';
    let killed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!killed && out.includes('❓ Round')) {
        killed = true;
        child.kill('SIGTERM');
      }
    });
    const code = await new Promise((done) => child.once('exit', done));
    expect(out).toContain('❓ Round');
    expect(code).toBe(143);
    // The throwaway server's folder (socket and all) is gone, so the server is too.
    expect(readdirSync(tmp).filter((d) => d.startsWith('dlb-redis-'))).toEqual([]);
  });
});
