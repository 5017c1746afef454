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

/** How long a server has to stop after SIGTERM before it is killed outright. */
const STOP_GRACE_MS = 5_000;

/** How long a server has to say it accepts connections before start-up gives up. */
const START_TIMEOUT_MS = 10_000;

/**
 * A unix socket's path holds at most 107 bytes (sun_path is 108 with its NUL), and Redis
 * refuses a longer one ("unix socket path too long"): under a deep TMPDIR (a CI
 * workspace's, a macOS per-user folder) the socket's folder goes in /tmp instead.
 */
const SOCKET_PATH_MAX = 107;

/** The folder for the socket and the server's files: TMPDIR's, unless its path is too long. */
export function socketParent(tmp = tmpdir()): string {
  // mkdtemp adds six characters; then "/redis.sock".
  const longest = Buffer.byteLength(join(tmp, 'dlb-redis-XXXXXX', 'redis.sock'));
  return longest <= SOCKET_PATH_MAX ? tmp : '/tmp';
}

/** Starts redis-server with no persistence on a fresh unix socket; resolves once it accepts. */
export async function startEphemeralRedis(): Promise<EphemeralRedis> {
  const dir = mkdtempSync(join(socketParent(), 'dlb-redis-'));
  const socketPath = join(dir, 'redis.sock');
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', socketPath, '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Listened for from the spawn on: a server that dies (OOM killer, SIGKILL) before
  // anyone stops it has had its one 'exit' event, and a listener added then would wait
  // forever. A spawn that fails ('error') never ran, so there is nothing to wait for.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const stop = async () => {
    await stopChild(child, exited);
    rmSync(dir, { recursive: true, force: true });
  };
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start:\n${output}`)),
        START_TIMEOUT_MS,
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
  } catch (error) {
    // The caller gets no handle to stop it with, so a server that is up but never
    // ready would outlive the caller, folder and all.
    await stop();
    throw error;
  }
  return {
    // ioredis takes a bare socket path where it takes a URL.
    url: socketPath,
    socketPath,
    stop,
  };
}

/** SIGTERM, then SIGKILL if it is still there after the grace period; returns once it is gone. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const running = () =>
    child.pid !== undefined && child.exitCode === null && child.signalCode === null;
  if (!running()) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, STOP_GRACE_MS);
  });
  await Promise.race([exited, graceOver]);
  clearTimeout(timer);
  if (!running()) return;
  child.kill('SIGKILL');
  await exited;
}
