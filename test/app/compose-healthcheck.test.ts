import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEphemeralRedis } from '../../src/app/redis-server.js';

const ROOT = join(import.meta.dirname, '../..');

/** The shell command of the compose file's Redis healthcheck. */
function redisHealthcheck(): string {
  const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  const redis = compose.slice(compose.indexOf('  redis:'), compose.indexOf('\n  bot:'));
  const test = /test: \["CMD-SHELL", "(.+)"\]/.exec(redis);
  if (!test?.[1]) throw new Error('no CMD-SHELL healthcheck in the redis service');
  return test[1];
}

/** Exit status of a command; asynchronous, since the fake Redis answers from this process. */
function status(file: string, args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'ignore', timeout: 10_000 });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

/** Runs it as the container would, with redis-cli pointed at `target` instead of its default. */
async function healthy(target: string[]): Promise<boolean> {
  const command = redisHealthcheck().replace('redis-cli', `redis-cli ${target.join(' ')}`);
  return (await status('sh', ['-c', command])) === 0;
}

describe("docker-compose's Redis healthcheck", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it('passes on a Redis that answers PONG', async () => {
    const redis = await startEphemeralRedis();
    try {
      expect(await healthy(['-s', redis.url])).toBe(true);
    } finally {
      await redis.stop();
    }
  });

  it('fails on a Redis still loading its AOF, which redis-cli itself exits 0 on', async () => {
    // What Redis answers every command while it reads its data back at start.
    server = createServer((socket) => {
      socket.on('data', () => socket.write('-LOADING Redis is loading the dataset in memory\r\n'));
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const port = String(address.port);
    expect(await status('redis-cli', ['-h', '127.0.0.1', '-p', port, 'ping'])).toBe(0);
    expect(await healthy(['-h', '127.0.0.1', '-p', port])).toBe(false);
  });
});
