import { describe, expect, it, onTestFinished } from 'vitest';
import { redactUrl } from '../../src/app/config.js';
import {
  connectRedis,
  DEFAULT_RECONNECT,
  RedisUnavailableError,
  reconnectStrategy,
} from '../../src/app/redis.js';
import { startEphemeralRedis } from '../../src/app/redis-server.js';

describe('connecting to Redis', () => {
  it('fails fast with a message naming REDIS_URL when nothing answers', async () => {
    const error = await connectRedis('redis://:hunter2@127.0.0.1:1', 1_000).catch((e) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect(error.message).toMatch(/Cannot reach Redis at REDIS_URL=redis:\/\/127\.0\.0\.1:1 /);
    expect(error.message).not.toMatch(/hunter2/);
  });

  it('says a Redis that wants a password refused the connection, not that it is not running', async () => {
    const server = await startEphemeralRedis(['--requirepass', 'hunter2']);
    onTestFinished(() => server.stop());
    const error = await connectRedis(server.url, 2_000).catch((e) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect(error.message).toMatch(
      /^Redis at REDIS_URL=\S+ refused the connection \(NOAUTH: it needs a password/,
    );
    expect(error.message).toMatch(/Put its user name and password in REDIS_URL/);
    expect(error.message).not.toMatch(/Cannot reach|Start Redis/);
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

  it('masks credentials in URLs it prints', () => {
    expect(redactUrl('redis://user:secret@host:6379/0')).toBe('redis://host:6379/0');
    expect(redactUrl('/tmp/redis.sock')).toBe('/tmp/redis.sock');
  });
});
