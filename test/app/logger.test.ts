import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/app/config.js';
import { createLogger, secretsFrom } from '../../src/app/logger.js';
import { testRedis } from '../support/redis.js';

// Fake secrets, distinctive enough that any trace of them in a line is found.
const ENV = {
  SLACK_BOT_TOKEN: 'xoxb-1111-2222-logtestbottoken',
  SLACK_APP_TOKEN: 'xapp-1-A0LOG-3333-logtestapptoken',
  SLACK_SIGNING_SECRET: 'sigsecret-logtest-8c1d2e',
  DISCORD_TOKEN: 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GlOgTt.logtest-discord-token-abcdefghijk',
  OPENAI_API_KEY: 'sk-logtest-0a9b8c7d6e5f',
  // A password with characters URLs encode, and a second one in the query.
  REDIS_URL: 'redis://default:p%40ss-redis-logtest@redis.internal:6379/0?password=qpass-logtest',
};
const SECRETS = [
  ENV.SLACK_BOT_TOKEN,
  ENV.SLACK_APP_TOKEN,
  ENV.SLACK_SIGNING_SECRET,
  ENV.DISCORD_TOKEN,
  ENV.OPENAI_API_KEY,
  'p@ss-redis-logtest',
  'p%40ss-redis-logtest',
  'qpass-logtest',
];

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

describe('secrets in log lines', () => {
  it('takes every configured secret from the environment, Redis passwords included', () => {
    expect(secretsFrom(ENV).sort()).toEqual([...new Set(SECRETS)].sort());
    expect(secretsFrom({ REDIS_URL: '/tmp/redis.sock?password=sockpass-1' })).toContain(
      'sockpass-1',
    );
    expect(secretsFrom({})).toEqual([]);
  });

  it("takes a gateway's key from OPENAI_BASE_URL's query, an Azure Function's ?code= too, and leaves the rest", () => {
    const secrets = secretsFrom({
      OPENAI_BASE_URL:
        'https://fn.example/api/v1?code=fnkey-logtest-71c2&api-key=gwkey-logtest-33ab&api-version=2024-10-21',
    });
    expect(secrets).toContain('fnkey-logtest-71c2');
    expect(secrets).toContain('gwkey-logtest-33ab');
    expect(secrets).not.toContain('2024-10-21');
  });

  it('masks each one in messages, fields at any depth, error messages and stacks', () => {
    const { stream, lines } = capture();
    const log = createLogger('info', stream, secretsFrom(ENV)).child({ role: 'test' });
    for (const secret of SECRETS) {
      const error = new Error(`the server said: bad credential ${secret}`);
      log.error(
        {
          err: { message: error.message, stack: error.stack },
          nested: { deeper: [{ note: `value=${secret};` }] },
          quoted: `"${secret}"`,
        },
        `request failed with ${secret}`,
      );
    }
    expect(lines).toHaveLength(SECRETS.length);
    for (const line of lines) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      expect(parsed.msg).toMatch(/^request failed with \[redacted\]$/);
      for (const secret of SECRETS) expect(line).not.toContain(secret);
    }
  });

  it('masks token shapes nobody configured: Slack, OpenAI-style, bearer, Discord', () => {
    const { stream, lines } = capture();
    const log = createLogger('info', stream, []);
    log.warn(
      {
        header: 'Authorization: Bearer abc.def-ghi_jkl012345',
        pasted: 'xoxp-9999-8888-someoneelses and xapp-1-B0-7777-another',
        key: 'sk-proj-AbCdEf0123456789',
        discord: 'OTk5OTk5OTk5OTk5OTk5OTk5.Gabcde.zyxwvutsrqponmlkjihgfedcba012',
        jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWxvZ3Rlc3Q',
        host: 'http://inference-gateway-service.ml-namespace.svc:8000/v1',
      },
      'foreign tokens',
    );
    const line = lines[0] ?? '';
    for (const leak of [
      'abc.def-ghi',
      'someoneelses',
      'another',
      'AbCdEf0123',
      'zyxwvutsrq',
      'c2lnbmF0dXJl',
    ]) {
      expect(line).not.toContain(leak);
    }
    expect(line).toContain('inference-gateway-service.ml-namespace.svc:8000');
    expect(line).toContain('Bearer [redacted]');
    // Ordinary text is left alone.
    expect(JSON.parse(line).msg).toBe('foreign tokens');
  });

  it('prints URLs without user name, password or query values', () => {
    expect(redactUrl('redis://xoxb-as-user:secret@host:6379/0?password=hunter2')).toBe(
      'redis://host:6379/0?password=***',
    );
    expect(redactUrl('https://gateway.example/v1?api-key=k-123&api-version=2024')).toBe(
      'https://gateway.example/v1?api-key=***&api-version=***',
    );
    expect(redactUrl('/tmp/redis.sock?password=hunter2&db=1')).toBe(
      '/tmp/redis.sock?password=***&db=***',
    );
    expect(redactUrl('/tmp/redis.sock')).toBe('/tmp/redis.sock');
    expect(redactUrl('not a url')).toBe('(unparseable URL)');
  });

  it('keeps out every part of a password written with / # or @ unencoded', () => {
    // URL parsing ends the host at the "/": "ss/w0rd#x@…" would pass for host and path.
    const url = 'redis://:p@ss/w0rd#x@localhost:6390';
    expect(redactUrl(url)).toBe('redis://localhost:6390');
    expect(secretsFrom({ REDIS_URL: url })).toContain('p@ss/w0rd#x');
    const { stream, lines } = capture();
    createLogger('info', stream, secretsFrom({ REDIS_URL: url })).error(
      { err: 'connect failed for p@ss/w0rd#x' },
      'Redis unreachable',
    );
    expect(lines.join('\n')).toContain('Redis unreachable');
    expect(lines.join('\n')).not.toContain('w0rd');
  });
});

describe('errors in log lines', () => {
  const redisInfo = testRedis();

  it("keeps a client error's message and drops the request it carried (ioredis's command and arguments)", async () => {
    const redis = redisInfo.connect();
    const opinion = 'My manager is the reason I want to leave';
    const error = await redis
      .eval('return redis.error_reply("OOM command not allowed")', 0, opinion)
      .then(
        () => null,
        (e: unknown) => e,
      );
    await redis.quit();
    // The premise: ioredis keeps the arguments on the error it rejects with.
    expect(JSON.stringify(error)).toContain(opinion);
    const { stream, lines } = capture();
    const log = createLogger('info', stream, []);
    log.warn({ err: error, cause: error }, 'a write was refused');
    log.warn({ error: new Error('wrapped', { cause: error }) }, 'a wrapped one');
    const text = lines.join('\n');
    expect(text).toContain('OOM command not allowed');
    expect(text).not.toContain(opinion);
  });

  it("drops the commands of a refused transaction too (ioredis's EXECABORT lists each one's error)", async () => {
    const redis = redisInfo.connect();
    const opinion = 'Our team lead never listens to the night shift';
    const key = `${redisInfo.prefix}:execabort`;
    // A command with the wrong number of arguments makes Redis refuse the whole MULTI.
    const error = await redis
      .multi()
      .set(key, 'fine')
      .call('hset', key, opinion)
      .exec()
      .then(
        () => null,
        (e: unknown) => e,
      );
    await redis.quit();
    expect(String((error as Error | null)?.message)).toMatch(/EXECABORT/);
    expect(JSON.stringify((error as { previousErrors?: unknown }).previousErrors)).toContain(
      opinion,
    );
    const { stream, lines } = capture();
    createLogger('info', stream, []).warn({ err: error }, 'a transaction was refused');
    const text = lines.join('\n');
    expect(text).toContain('EXECABORT');
    expect(text).not.toContain(opinion);
  });
});
