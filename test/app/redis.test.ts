import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/app/config.js';
import {
  connectRedis,
  DEFAULT_RECONNECT,
  RedisUnavailableError,
  reconnectStrategy,
} from '../../src/app/redis.js';
import { AofRedis } from '../faults/support.js';

describe('connecting to Redis', () => {
  it('fails fast with a message naming REDIS_URL when nothing answers', async () => {
    const error = await connectRedis('redis://:hunter2@127.0.0.1:1', 1_000).catch((e) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect(error.message).toMatch(/Cannot reach Redis at REDIS_URL=redis:\/\/127\.0\.0\.1:1 /);
    expect(error.message).not.toMatch(/hunter2/);
    // Why, not ioredis's bare "Connection is closed." that every failure ended in.
    expect(error.message).toMatch(/\(connect ECONNREFUSED 127\.0\.0\.1:1\)/);
  });

  it('says that Redis refused the password, not that it is unreachable, and never shows it', async () => {
    const server = new AofRedis(['--requirepass', 'right-password-4a8c']);
    await server.start();
    try {
      for (const url of [
        `${server.socketPath}?password=wrong-password-7e1d`,
        // No password at all.
        server.socketPath,
      ]) {
        const error = await connectRedis(url, 2_000).catch((e) => e);
        expect(error).toBeInstanceOf(RedisUnavailableError);
        expect(error.message).toMatch(/refused this process \((WRONGPASS|NOAUTH)\b/);
        expect(error.message).toContain('Check the user name and password in REDIS_URL');
        expect(error.message).not.toMatch(/Cannot reach|Start Redis/);
        expect(error.message).not.toMatch(/wrong-password|right-password/);
      }
      // With no password, it says that one is needed rather than quote HELLO's reply.
      const none = await connectRedis(server.socketPath, 2_000).catch((e) => e);
      expect(none.message).toMatch(/\(NOAUTH: it needs a password and REDIS_URL gives none\)/);
    } finally {
      await server.stop();
    }
  });

  it('gives up before the first connection, and never after it (capped backoff)', () => {
    let ready = false;
    const strategy = reconnectStrategy(() => ready);
    expect(strategy(1)).toBeNull();
    ready = true;
    expect(strategy(1)).toBe(DEFAULT_RECONNECT.stepMs);
    // Past the 20 tries (~31 s) after which the old strategy ended the connection for good.
    for (const times of [21, 100, 10_000]) expect(strategy(times)).toBe(DEFAULT_RECONNECT.maxMs);
  });

  it('refuses a node of a Redis Cluster, whose redirects (MOVED) its client does not follow', async () => {
    // The cluster bus listens on a port of its own (the Redis port + 10000 unless given).
    const bus = createServer();
    await new Promise<void>((r) => bus.listen(0, '127.0.0.1', r));
    const busPort = (bus.address() as AddressInfo).port;
    await new Promise((r) => bus.close(r));
    const server = new AofRedis(['--cluster-enabled', 'yes', '--cluster-port', String(busPort)]);
    await server.start();
    try {
      const error = await connectRedis(server.socketPath, 2_000).catch((e) => e);
      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect(error.message).toMatch(/is a node of a Redis Cluster \(cluster_enabled:1\)/);
      expect(error.message).toContain('Point REDIS_URL at a single Redis endpoint');
    } finally {
      await server.stop();
    }
  });

  it('masks credentials in URLs it prints', () => {
    expect(redactUrl('redis://user:secret@host:6379/0')).toBe('redis://host:6379/0');
    expect(redactUrl('/tmp/redis.sock')).toBe('/tmp/redis.sock');
  });
});
