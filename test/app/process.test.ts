import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { deletePrefix, testRedis } from '../support/redis.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** Starts an entry point and resolves with its "running" log line (JSON on stderr). */
function launch(
  entry: string,
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; running: Record<string, unknown>; logs: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "running" line:\n${stderr}`)), 20_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      for (const line of stderr.split('\n')) {
        if (!line.includes(' running"')) continue;
        clearTimeout(timer);
        resolvePromise({ child, running: JSON.parse(line), logs: () => stderr });
        return;
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${stderr}`));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

describe('npm start and npm run worker as processes', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });
  afterAll(async () => {
    const redis = testRedis().connect();
    await deletePrefix(redis, `proc${process.pid}`);
    await redis.quit();
  });

  const env = (extra: NodeJS.ProcessEnv = {}) => ({
    ...process.env,
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: `proc${process.pid}`,
    PORT: '0',
    LOG_LEVEL: 'info',
    SLACK_BOT_TOKEN: '',
    DISCORD_TOKEN: '',
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: '',
    ...extra,
  });

  it('serves health, readiness and metrics with no platform configured, and exits 0 on SIGTERM', async () => {
    const { child, running } = await launch('src/app/start.ts', env());
    children.push(child);
    expect(running.workers).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${running.health}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/dlb_jobs\{queue="generate"/);
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done).toBe(0);
  });

  it('runs workers alone with `worker`', async () => {
    const { child, running } = await launch('src/app/worker.ts', env());
    children.push(child);
    expect(running.slack).toBe('off');
    const done = exited(child);
    child.kill('SIGINT');
    expect(await done).toBe(0);
  });

  it('refuses to start with a bad setting and names it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/start.ts'], {
      cwd: ROOT,
      env: env({ WORKER_CONCURRENCY: 'lots' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    expect(await exited(child)).toBe(2);
    expect(stderr).toMatch(/WORKER_CONCURRENCY: must be a whole number/);
  });
});
