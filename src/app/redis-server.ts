import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway redis-server on a unix socket, for the demo and the test run. */
export interface EphemeralRedis {
  url: string;
  socketPath: string;
  stop(): Promise<void>;
}

export const NO_REDIS_HELP =
  'No Redis available: REDIS_URL is unset and no `redis-server` is on PATH.\n' +
  'Either set REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379) to a running Redis 6.2+,\n' +
  'or install one: `sudo apt-get install redis-server` (Debian/Ubuntu), `brew install redis` (macOS).';

export function hasRedisServerBinary(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return probe.status === 0;
}

/** Starts redis-server with no persistence on a fresh unix socket; resolves once it accepts. */
export async function startEphemeralRedis(): Promise<EphemeralRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'dlb-redis-'));
  const socketPath = join(dir, 'redis.sock');
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', socketPath, '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`redis-server did not start:\n${output}`)),
      10_000,
    );
    const onData = () => {
      if (/ready to accept connections/i.test(output)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    });
  });
  return {
    // ioredis takes a bare socket path where it takes a URL.
    url: socketPath,
    socketPath,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
