import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { ConfigSchema } from '../../src/app/config.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/app/runtime.js';
import type { Scope } from '../../src/domain/scope.js';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import type { PipelineQueues } from '../../src/pipeline/queues.js';
import { ConsolePlatform } from '../../src/platforms/console/console-platform.js';
import { RecordingLog, until } from '../support/harness.js';

export const ROOT = resolve(import.meta.dirname, '../..');

/** A child running one of the app's entry points, with everything it wrote. */
export interface AppProcess {
  child: ChildProcess;
  /** The parsed "<role> running" log line. */
  running: Record<string, unknown>;
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string | null>;
}

/**
 * Starts `src/app/start.ts` or `src/app/worker.ts` as `npm start` / `npm run worker` do
 * and resolves once it logs that it is running (the line is logged after its signal
 * handlers are in place, so it may be signalled right away).
 */
export function launch(entry: string, env: NodeJS.ProcessEnv): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | string | null>((r) =>
    child.once('exit', (code, signal) => r(code ?? signal)),
  );
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "running" line:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes(' running"'));
      if (!line) return;
      clearTimeout(timer);
      resolvePromise({ child, running: JSON.parse(line), output: () => output, exited });
    };
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before running:\n${output}`));
    });
  });
}

/** The environment of a child process: this one's, minus anything a developer set. */
export function childEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(SLACK_|DISCORD_|OPENAI_|LLM_|LIMIT_|REDIS_)/.test(name)) delete env[name];
  }
  return { ...env, PORT: '0', LOG_LEVEL: 'info', ...extra };
}

/** Kills a child and waits until it is gone. */
export async function kill(
  app: AppProcess,
  signal: NodeJS.Signals,
): Promise<number | string | null> {
  if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill(signal);
  return app.exited;
}

/**
 * A redis-server of our own with AOF fsynced on every write, on a unix socket in a temp
 * folder, that can be killed and started again on the same data.
 */
export class AofRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'dlb-aof-'));
  readonly socketPath = join(this.dir, 'redis.sock');
  private child: ChildProcess | null = null;
  starts = 0;

  /** `extraArgs` go to redis-server as they are (e.g. `--requirepass`, `<password>`). */
  constructor(private readonly extraArgs: readonly string[] = []) {}

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--unixsocket',
        this.socketPath,
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    let output = '';
    await new Promise<void>((resolvePromise, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server not ready:\n${output}`)),
        10_000,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/ready to accept connections/i.test(output)) {
          clearTimeout(timer);
          resolvePromise();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output}`));
      });
    });
    this.starts++;
  }

  /** SIGKILL: no shutdown save; only what AOF had fsynced survives. */
  async crash(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }

  async restart(): Promise<void> {
    await this.crash();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.crash();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Waits until no pipeline or publish job is left, so nothing more can be posted: the
 * publish jobs of `scopes`, or of the queues these queues' process takes.
 */
export async function drained(
  queues: PipelineQueues,
  scopes: readonly Scope[] = [],
  timeoutMs = 15_000,
): Promise<void> {
  const { generate, score, select } = queues;
  const publish = [...queues.servedPublishQueues(), ...scopes.map((s) => queues.publishQueue(s))];
  await until(async () => {
    const counts = await Promise.all(
      [generate, score, select, ...publish].map((q) =>
        q.getJobCounts('active', 'waiting', 'delayed', 'prioritized'),
      ),
    );
    return counts.every((c) => Object.values(c).every((n) => n === 0));
  }, timeoutMs);
}

/**
 * The bot and its workers on `redis` with the offline models and a console platform, as
 * the fault tests run them; `env` are settings as environment variables.
 */
export function offlineRuntime(
  redis: Redis,
  options: {
    env?: Record<string, string>;
    log?: RecordingLog;
    outages?: RuntimeOptions['outages'];
  } = {},
): { runtime: Runtime; platform: ConsolePlatform; log: RecordingLog } {
  const platform = new ConsolePlatform(() => {});
  const log = options.log ?? new RecordingLog();
  const runtime = createRuntime({
    config: ConfigSchema.parse(options.env ?? {}),
    redis,
    log,
    generator: new ExtractiveGenerator(),
    rewardModel: new LexicalRewardModel(),
    platforms: { console: platform },
    runWorkers: true,
    outages: options.outages,
  });
  return { runtime, platform, log };
}
