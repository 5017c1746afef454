import { createHash, randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LuaScript } from '../../src/store/script.js';
import { deletePrefix, testRedis } from '../support/redis.js';

describe('LuaScript', () => {
  const env = testRedis();
  const redis = env.connect();
  afterEach(async () => {
    await deletePrefix(redis, env.prefix);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('runs by its hash, sending the text only the first time the server does not know it', async () => {
    // A text no server has seen: the first run meets NOSCRIPT and sends it.
    const source = `-- ${randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
    const sha = createHash('sha1').update(source).digest('hex');
    const script = new LuaScript(source, 1);
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    expect(await script.run(redis, `${env.prefix}:n`, 2)).toBe(2);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    expect(await script.run(redis, `${env.prefix}:n`, 3)).toBe(5);
  });

  it('passes on the script’s own errors', async () => {
    const script = new LuaScript(`return redis.call('INCR', KEYS[1])`, 1);
    await redis.set(`${env.prefix}:text`, 'not a number');
    await expect(script.run(redis, `${env.prefix}:text`)).rejects.toThrow(/not an integer/);
  });
});
