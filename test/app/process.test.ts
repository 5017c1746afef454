import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { type EphemeralRedis, startEphemeralRedis } from '../../src/app/redis-server.js';
import { FakeDiscord } from '../fakes/discord.js';
import { FakeSlack } from '../fakes/slack.js';
import { APPLICATION_ID, TOKEN } from '../platforms/discord/support.js';
import { until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';

const ROOT = resolve(import.meta.dirname, '../..');

interface Launched {
  child: ChildProcess;
  running: Record<string, unknown>;
  logs: () => string;
}

/** Starts an entry point and resolves once a log line (JSON on stderr) matches `ready`. */
function launch(
  entry: string,
  env: NodeJS.ProcessEnv,
  ready: (line: string) => boolean = (line) => line.includes(' running"'),
): Promise<Launched> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching line:\n${stderr}`)), 20_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      for (const line of stderr.split('\n')) {
        if (!line.startsWith('{') || !ready(line)) continue;
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

function exited(child: ChildProcess): Promise<number | string | null> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode ?? child.signalCode);
  }
  return new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)));
}

/** Runs the container's HEALTHCHECK command with `env`; resolves with its exit code. */
function healthcheck(env: NodeJS.ProcessEnv): Promise<number | string | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/healthcheck.ts'], {
    cwd: ROOT,
    env,
    stdio: 'ignore',
  });
  return exited(child);
}

/** Waits until a process starting up answers /healthz at `base` (it may not listen yet). */
async function aliveAt(base: string): Promise<void> {
  await until(
    () =>
      fetch(`${base}/healthz`).then(
        (res) => res.status === 200,
        () => false,
      ),
    15_000,
  );
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('npm start and npm run worker as processes', () => {
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  /** Node processes started through npm, which a broken signal path would leave running. */
  const orphans: number[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const pid of orphans.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already, as it should be.
      }
    }
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
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
    METRICS_PORT: '',
    LOG_LEVEL: 'info',
    SLACK_BOT_TOKEN: '',
    SLACK_APP_TOKEN: '',
    SLACK_SIGNING_SECRET: '',
    DISCORD_TOKEN: '',
    DISCORD_APPLICATION_ID: '',
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: '',
    ...extra,
  });

  /** `npm start` (from the sources) that is expected to exit: its code and stderr. */
  async function startFails(
    extra: NodeJS.ProcessEnv,
    args: readonly string[] = [],
    entry = 'src/app/start.ts',
  ) {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
      cwd: ROOT,
      env: env(extra),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    let stdout = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    return { code: await exited(child), stderr, stdout };
  }

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

  it('is not ready while the Discord gateway reconnects, and ready again once it resumes', async () => {
    const fake = await FakeDiscord.start({ token: TOKEN, applicationId: APPLICATION_ID });
    cleanups.push(() => fake.close());
    const { child, running } = await launch(
      'src/app/start.ts',
      env({
        DISCORD_TOKEN: TOKEN,
        DISCORD_APPLICATION_ID: APPLICATION_ID,
        DISCORD_API_URL: fake.apiUrl,
      }),
    );
    children.push(child);
    expect(running.discord).toBe('on');
    const readyz = () => fetch(`http://127.0.0.1:${running.health}/readyz`);
    expect((await readyz()).status).toBe(200);
    let down: Response | undefined;
    // The fake holds the reconnect until the probe has seen the gap.
    await fake.dropConnection({
      whileGone: async () => {
        down = await until(async () => {
          const res = await readyz();
          return res.status === 503 && res;
        }, 5_000);
      },
    });
    expect(await down?.text()).toBe('discord gateway not connected\n');
    await until(async () => (await readyz()).status === 200, 5_000);
  });

  /**
   * `npm start` whose platform is held at its start (`release` lets it go): alive to the
   * HEALTHCHECK meanwhile, not ready (`trouble`), then ready once it is up.
   */
  async function startsHeld(platform: NodeJS.ProcessEnv, release: () => void, trouble: string) {
    const port = await freePort();
    const starting = launch('src/app/start.ts', env({ PORT: String(port), ...platform }));
    const base = `http://127.0.0.1:${port}`;
    await aliveAt(base);
    const notReady = await fetch(`${base}/readyz`);
    expect([notReady.status, await notReady.text()]).toEqual([503, `${trouble}\n`]);
    release();
    const { child, running } = await starting;
    children.push(child);
    expect(running.health).toBe(port);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    return running;
  }

  it('answers /healthz while Discord is still starting, with /readyz 503 until the gateway is up', async () => {
    const fake = await FakeDiscord.start({ token: TOKEN, applicationId: APPLICATION_ID });
    cleanups.push(() => fake.close());
    // A container's HEALTHCHECK during a long start (shards wait up to 30 s each).
    const release = fake.holdGateway();
    cleanups.push(async () => release());
    const discord = {
      DISCORD_TOKEN: TOKEN,
      DISCORD_APPLICATION_ID: APPLICATION_ID,
      DISCORD_API_URL: fake.apiUrl,
    };
    expect((await startsHeld(discord, release, 'discord gateway not connected')).discord).toBe(
      'on',
    );
  });

  it('in Slack Socket Mode, is not ready until Slack has connected', async () => {
    const slack = await new FakeSlack().start();
    cleanups.push(() => slack.stop());
    // Slack slow to answer the start's first call.
    const release = slack.hold((call) => call.method === 'auth.test');
    cleanups.push(async () => release());
    const socketMode = {
      SLACK_BOT_TOKEN: 'xoxb-socket-test',
      SLACK_APP_TOKEN: 'xapp-1-socket-test',
      SLACK_API_URL: slack.apiUrl,
    };
    expect((await startsHeld(socketMode, release, 'slack not connected yet')).slack).toBe(
      'socket-mode',
    );
  });

  it('runs workers alone with `worker`', async () => {
    const { child, running } = await launch('src/app/worker.ts', env());
    children.push(child);
    expect(running.slack).toBe('off');
    const done = exited(child);
    child.kill('SIGINT');
    expect(await done).toBe(0);
  });

  it.each(['npm start', 'npm run worker'])(
    '%s hands a SIGTERM sent to npm alone on to node, which shuts down and exits 0',
    async (command) => {
      // What a supervisor that signals only its child's pid (pm2, supervisord, `timeout`,
      // `docker run … npm start`) does: npm forwards the signal to the script's process,
      // which must be node itself, not a shell that dies and leaves node running.
      const npm = spawn('npm', command.split(' ').slice(1), {
        cwd: ROOT,
        env: env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(npm);
      let stderr = '';
      const running = await new Promise<{ pid: number }>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`not running:\n${stderr}`)), 20_000);
        npm.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const line = stderr.split('\n').find((l) => l.includes(' running"'));
          if (!line) return;
          clearTimeout(timer);
          resolvePromise(JSON.parse(line) as { pid: number });
        });
      });
      orphans.push(running.pid);
      expect(running.pid).not.toBe(npm.pid);
      const done = exited(npm);
      npm.kill('SIGTERM');
      expect(await done).toBe(0);
      expect(stderr).toContain('"msg":"shutting down"');
      // npm waited for node: nothing is left holding the port and the workers.
      expect(() => process.kill(running.pid, 0)).toThrow(/ESRCH/);
    },
  );

  it('a second process on a PORT in use exits 1 naming the setting; with METRICS_PORT set, PORT is left alone', async () => {
    const port = await freePort();
    const first = await launch('src/app/worker.ts', env({ PORT: String(port) }));
    children.push(first.child);
    expect(first.running.health).toBe(port);

    const second = spawn(process.execPath, ['--import', 'tsx', 'src/app/worker.ts'], {
      cwd: ROOT,
      env: env({ PORT: String(port) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(second);
    let stderr = '';
    second.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    expect(await exited(second)).toBe(1);
    expect(stderr).toContain(`Cannot serve /healthz on port ${port} (PORT): listen EADDRINUSE`);
    expect(stderr).toContain('give each process its own PORT');

    // METRICS_PORT moves the endpoints (with no Slack HTTP endpoint, nothing is on PORT):
    // `npm start` with no platform runs beside the worker that holds PORT.
    const metricsPort = await freePort();
    const third = await launch(
      'src/app/start.ts',
      env({ PORT: String(port), METRICS_PORT: String(metricsPort) }),
    );
    children.push(third.child);
    expect(third.running.health).toBe(metricsPort);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);
    for (const app of [first, third]) {
      const done = exited(app.child);
      app.child.kill('SIGTERM');
      expect(await done).toBe(0);
    }
  });

  it('refuses arguments, which it would otherwise ignore, and prints its usage for --help', async () => {
    for (const entry of ['src/app/start.ts', 'src/app/worker.ts']) {
      const refused = await startFails({}, ['--redis-url', 'redis://elsewhere'], entry);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/takes no arguments \(got "--redis-url"\)/);
      expect(refused.stderr).toContain('every setting comes from the environment');
      const help = await startFails({}, ['--help'], entry);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^usage: npm (start|run worker) /);
    }
  });

  it('refuses to start with a bad setting and names it', async () => {
    const { code, stderr } = await startFails({ WORKER_CONCURRENCY: 'lots' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/WORKER_CONCURRENCY: must be a whole number/);
  });

  it('refuses Discord shard ids beyond DISCORD_SHARDS, naming the setting', async () => {
    const { code, stderr } = await startFails({
      DISCORD_TOKEN: TOKEN,
      DISCORD_APPLICATION_ID: APPLICATION_ID,
      DISCORD_SHARDS: '2',
      DISCORD_SHARD_IDS: '1,2',
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/DISCORD_SHARD_IDS: shard 2 does not exist/);
  });

  it('exits 0 within SHUTDOWN_TIMEOUT_MS on SIGTERM while Redis is down and a client hangs', async () => {
    const redis: EphemeralRedis = await startEphemeralRedis();
    cleanups.push(() => redis.stop());
    const timeoutMs = 2_000;
    const { child, running } = await launch(
      'src/app/start.ts',
      env({ REDIS_URL: redis.url, SHUTDOWN_TIMEOUT_MS: String(timeoutMs) }),
    );
    children.push(child);
    const port = Number(running.health);
    const base = `http://127.0.0.1:${port}`;
    await redis.stop();
    await until(async () => (await fetch(`${base}/readyz`)).status === 503, 5_000);
    // A client that sent half a request and went quiet: the HTTP server's close waits for
    // it (up to its 60 s headers timeout) unless the shutdown cuts it off.
    const stalled: Socket = connect(port, '127.0.0.1');
    cleanups.push(async () => stalled.destroy());
    await new Promise((r) => stalled.once('connect', r));
    stalled.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    stalled.on('error', () => {});

    const started = Date.now();
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done).toBe(0);
    expect(Date.now() - started).toBeLessThan(timeoutMs + 1_500);
  });

  it('exits 0 on SIGTERM during start-up', async () => {
    // A Slack that accepts connections and never answers: auth.test hangs, so the process
    // is still starting when the signal comes.
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => silent.close(r));
    });
    const { child } = await launch(
      'src/app/start.ts',
      env({
        SLACK_BOT_TOKEN: 'xoxb-startup-test',
        SLACK_SIGNING_SECRET: 'startup-secret',
        SLACK_API_URL: `http://127.0.0.1:${(silent.address() as { port: number }).port}/api/`,
      }),
      // Logged once Redis is connected, before the platforms start.
      (line) => line.includes('no model server configured'),
    );
    children.push(child);
    await until(() => sockets.size > 0, 10_000);
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done).toBe(0);
  });

  it('beside a Slack HTTP endpoint: exact health paths, HEAD probes, and a stalled request does not hold the shutdown', async () => {
    const slack = await new FakeSlack().start();
    cleanups.push(() => slack.stop());
    const { child, running } = await launch(
      'src/app/start.ts',
      env({
        SLACK_BOT_TOKEN: 'xoxb-stall-test',
        SLACK_SIGNING_SECRET: 'stall-secret',
        SLACK_API_URL: slack.apiUrl,
        SHUTDOWN_TIMEOUT_MS: '20000',
      }),
    );
    children.push(child);
    const port = Number(String(running.slack).slice('http:'.length));
    const base = `http://127.0.0.1:${port}`;
    const quick = { signal: AbortSignal.timeout(3_000) };
    // Bolt's own route matching ignores case and a trailing slash; ours answers them 404.
    expect((await fetch(`${base}/readyz/`, quick)).status).toBe(404);
    expect((await fetch(`${base}/HEALTHZ`, quick)).status).toBe(404);
    const head = await fetch(`${base}/healthz`, { ...quick, method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect((await fetch(`${base}/readyz`, { ...quick, method: 'HEAD' })).status).toBe(200);

    // A client that sends half a request and waits.
    const stalled = connect(port, '127.0.0.1');
    cleanups.push(async () => stalled.destroy());
    await new Promise((r) => stalled.once('connect', r));
    stalled.write('POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{');
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done).toBe(0);
    // Bounded by the HTTP close grace (2 s), far inside SHUTDOWN_TIMEOUT_MS.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('serves /healthz on METRICS_PORT beside a Slack HTTP endpoint, where the healthcheck asks', async () => {
    const slack = await new FakeSlack().start();
    cleanups.push(() => slack.stop());
    const metricsPort = await freePort();
    const appEnv = env({
      SLACK_BOT_TOKEN: 'xoxb-healthport-test',
      SLACK_SIGNING_SECRET: 'healthport-secret',
      SLACK_API_URL: slack.apiUrl,
      METRICS_PORT: String(metricsPort),
    });
    const { child, running } = await launch('src/app/start.ts', appEnv);
    children.push(child);
    expect(running.slack).toMatch(/^http:\d+$/);
    expect(running.health).toBe(metricsPort);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);
    // The probes stay beside the public Slack endpoint too, for a load balancer there; the
    // metrics, which have no authentication, are only on METRICS_PORT.
    const slackPort = String(running.slack).slice('http:'.length);
    expect((await fetch(`http://127.0.0.1:${slackPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${slackPort}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${slackPort}/metrics`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
    expect(await healthcheck(appEnv)).toBe(0);
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done).toBe(0);
    expect(await healthcheck(appEnv)).toBe(1);
  });
});
