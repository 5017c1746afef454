import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { FakeDiscord } from '../fakes/discord.js';
import { APPLICATION_ID, TOKEN } from '../platforms/discord/support.js';
import { deletePrefix, testRedis } from '../support/redis.js';

/**
 * What the Docker image runs: `node dist/app/*.js` from `npm run build`, no tsx, and the
 * HEALTHCHECK command. The other process tests run the sources through tsx, which would
 * not notice a build that fails, a file left out of dist/, or an import that only tsx
 * resolves.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist/app');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds unless dist/ is newer than every source (CI builds just before the tests). */
function ensureBuilt(): void {
  const built = join(DIST, 'start.js');
  const configs = ['tsconfig.json', 'tsconfig.build.json'].map(
    (f) => statSync(join(ROOT, f)).mtimeMs,
  );
  if (
    existsSync(built) &&
    statSync(built).mtimeMs > Math.max(newestSource(join(ROOT, 'src')), ...configs)
  ) {
    return;
  }
  const result = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`npm run build failed:\n${result.stdout}${result.stderr}`);
}

function launchDist(entry: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(DIST, entry)], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "running" line:\n${stderr}`)), 20_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes(' running"')) {
        clearTimeout(timer);
        resolvePromise(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${stderr}`));
    });
  });
}

function exited(child: ChildProcess): Promise<number | string | null> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode ?? child.signalCode);
  }
  return new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)));
}

function healthcheck(env: NodeJS.ProcessEnv): Promise<number | string | null> {
  return exited(
    spawn(process.execPath, [join(DIST, 'healthcheck.js')], { cwd: ROOT, env, stdio: 'ignore' }),
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('the built entry points (what the image runs)', () => {
  const children: ChildProcess[] = [];
  beforeAll(ensureBuilt, 120_000);
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });
  afterAll(async () => {
    const redis = testRedis().connect();
    await deletePrefix(redis, `dist${process.pid}`);
    await redis.quit();
  });

  const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
    const base: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(base)) {
      if (/^(SLACK_|DISCORD_|OPENAI_|LLM_|REDIS_|PORT$|METRICS_PORT$)/.test(name))
        delete base[name];
    }
    return {
      ...base,
      NODE_ENV: 'production',
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: `dist${process.pid}`,
      LOG_LEVEL: 'info',
      ...extra,
    };
  };

  it('node dist/app/start.js with no platform: /healthz, /readyz, the healthcheck up and down, SIGTERM exits 0', async () => {
    const port = await freePort();
    const appEnv = env({ PORT: String(port) });
    const child = await launchDist('start.js', appEnv);
    children.push(child);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(
      /^dlb_redis_up 1$/m,
    );
    expect(await healthcheck(appEnv)).toBe(0);
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done).toBe(0);
    expect(await healthcheck(appEnv)).toBe(1);
  });

  it("fits the learned model in a worker thread from dist/ alone (the thread's entry is built too)", () => {
    const request = {
      input: {
        members: ['a', 'b', 'c'].map((id) => ({ id, text: null })),
        statements: ['s0', 's1', 'new'].map((id) => ({ id, text: `statement ${id}` })),
        ratings: ['a', 'b', 'c'].flatMap((member, m) =>
          ['s0', 's1'].map((statement, s) => ({ member, statement, approval: (m + s) % 2 })),
        ),
      },
      members: ['a', 'b', 'c'],
      statements: ['new', 's0'],
    };
    const entry = pathToFileURL(join(ROOT, 'dist/app/learn-thread.js')).href;
    const script = join(mkdtempSync(join(tmpdir(), 'learn-thread-')), 'fit.mjs');
    writeFileSync(
      script,
      `import { learnInThread } from ${JSON.stringify(entry)};
      process.stdout.write(JSON.stringify(await learnInThread(${JSON.stringify(request)})));`,
    );
    const result = spawnSync(process.execPath, [script], { cwd: ROOT, encoding: 'utf8' });
    rmSync(dirname(script), { recursive: true });
    expect(result.stderr).toBe('');
    const learned = JSON.parse(result.stdout) as { approvals: number[][]; groups: number[] };
    expect(learned.groups).toHaveLength(3);
    // s0 as rated: b approved it, a and c did not.
    expect(learned.approvals[1]).toEqual([0, 1, 0]);
  });

  it('node dist/app/discord-commands.js registers /consensus (how the image registers it)', async () => {
    const fake = await FakeDiscord.start({ token: TOKEN, applicationId: APPLICATION_ID });
    try {
      const run = (extra: NodeJS.ProcessEnv) => {
        const child = spawn(process.execPath, [join(DIST, 'discord-commands.js')], {
          cwd: ROOT,
          env: env(extra),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        child.stderr?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        return exited(child).then((code) => ({ code, output }));
      };
      const unset = await run({});
      expect(unset.code).toBe(2);
      expect(unset.output).toContain('see "Connect to Discord" in the README');
      const registered = await run({
        DISCORD_TOKEN: TOKEN,
        DISCORD_APPLICATION_ID: APPLICATION_ID,
        DISCORD_API_URL: fake.apiUrl,
      });
      expect(registered).toEqual({
        code: 0,
        output: expect.stringContaining('Registered /consensus globally'),
      });
      expect(fake.requests.map((r) => [r.method, r.path])).toEqual([
        ['PUT', `/applications/${APPLICATION_ID}/commands`],
      ]);
    } finally {
      await fake.close();
    }
  });

  it('node dist/app/worker.js answers the healthcheck on METRICS_PORT and exits 0 on SIGTERM', async () => {
    const metricsPort = await freePort();
    const workerEnv = env({ PORT: '0', METRICS_PORT: String(metricsPort) });
    const child = await launchDist('worker.js', workerEnv);
    children.push(child);
    expect(await healthcheck(workerEnv)).toBe(0);
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done).toBe(0);
  });
});
