import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Config, ConfigError, ConfigSchema, loadConfig } from '../../src/app/config.js';
import { DiscordEnvSchema } from '../../src/app/discord-config.js';
import { SlackEnvSchema } from '../../src/app/slack-config.js';

const ROOT = resolve(import.meta.dirname, '../..');
const variables = [
  ...Object.keys(ConfigSchema.shape),
  ...Object.keys(SlackEnvSchema.shape),
  ...Object.keys(DiscordEnvSchema.shape),
];

describe('settings are documented', () => {
  const example = readFileSync(resolve(ROOT, '.env.example'), 'utf8');
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');

  it.each(variables)('%s is in .env.example and the README', (name) => {
    expect(example).toMatch(new RegExp(`^${name}=`, 'm'));
    expect(readme).toContain(`\`${name}\``);
  });

  it('.env.example parses as a valid configuration', () => {
    const env = Object.fromEntries(
      example
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(() => loadConfig(env)).not.toThrow();
    expect(SlackEnvSchema.safeParse(env).success).toBe(true);
    expect(DiscordEnvSchema.safeParse(env).success).toBe(true);
  });
});

/** The message loadConfig refuses `env` with; '' when it takes it. */
function refusalOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('the bounds the README states, as the configuration holds them', () => {
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
  const paragraph = readme.slice(readme.indexOf('Numbers are whole and bounded'));
  const bounds = [
    ...paragraph.slice(0, paragraph.indexOf('\n\n')).matchAll(/`([A-Z_]+)` (\d+)-(\d+)/g),
  ].map(([, name, min, max]) => [name ?? '', Number(min), Number(max)] as const);

  it('lists the bounds of the settings a real value could cross', () => {
    expect(bounds.map(([name]) => name)).toEqual(
      expect.arrayContaining(['WORKER_CONCURRENCY', 'LLM_TIMEOUT_MS', 'LLM_WORD_BUDGET']),
    );
  });

  it.each(bounds)(
    '%s takes %i to %i and refuses a value just outside, naming it',
    (name, min, max) => {
      expect(loadConfig({ [name]: String(min) })[name as keyof Config]).toBe(min);
      expect(loadConfig({ [name]: String(max) })[name as keyof Config]).toBe(max);
      expect(refusalOf({ [name]: String(max + 1) })).toContain(name);
      if (min > 0) expect(refusalOf({ [name]: String(min - 1) })).toContain(name);
    },
  );

  it('refuses a REDIS_PREFIX with a character a key must not hold', () => {
    expect(refusalOf({ REDIS_PREFIX: 'bot:one' })).toMatch(/REDIS_PREFIX: letters, digits/);
    expect(loadConfig({ REDIS_PREFIX: '{dlb}' }).REDIS_PREFIX).toBe('{dlb}');
  });
});

describe('REDIS_URL', () => {
  it.each(['redis://127.0.0.1:6379', 'rediss://user:pw@cache.example:6380/2', '/tmp/redis.sock'])(
    'takes %s',
    (url) => {
      expect(loadConfig({ REDIS_URL: url }).REDIS_URL).toBe(url);
    },
  );

  it.each(['notaurl', '10.0.0.5:6379', 'http://10.0.0.5:6379'])(
    'refuses %s at start, naming the variable and not the value',
    (url) => {
      const message = refusalOf({ REDIS_URL: url });
      expect(message).toMatch(/REDIS_URL: a redis:\/\/ or rediss:\/\/ URL, or a socket path/);
      expect(message).not.toContain(url);
    },
  );

  it.each(['redis://:p@ss/w0rd@cache.example:6379', 'redis://user:pa#ss@cache.example'])(
    'refuses %s, whose password needed percent-encoding, without printing it',
    (url) => {
      const message = refusalOf({ REDIS_URL: url });
      expect(message).toMatch(/REDIS_URL: .*must be percent-encoded/);
      expect(message).not.toMatch(/ss\/w0rd|pa#ss/);
    },
  );

  it.each([
    'redis://:p%40ss%2Fw0rd@cache.example:6379',
    // An "@" of the password's own, or one in the query, is read as meant.
    'redis://:p@ss@cache.example:6379',
    'redis://cache.example:6379?password=p@ss',
  ])('takes %s, which parses as meant', (url) => {
    expect(loadConfig({ REDIS_URL: url }).REDIS_URL).toBe(url);
  });

  it('refuses a URL ioredis cannot read, saying so', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://cache.example:notaport' })).toThrow(
      /REDIS_URL: not a URL ioredis can read/,
    );
  });
});

describe('RUN_WORKERS', () => {
  // The README: `true`/`false` or `1`/`0`, true when unset (empty is unset, as for every setting).
  it.each([
    [undefined, true],
    ['', true],
    ['true', true],
    ['1', true],
    ['false', false],
    ['0', false],
  ])('reads %j as %s', (value, runs) => {
    const env = value === undefined ? {} : { RUN_WORKERS: value };
    expect(loadConfig(env).RUN_WORKERS).toBe(runs);
  });

  it.each(['yes', 'on', 'TRUE', 'no'])(
    'refuses %j at start, naming the variable, rather than run with no workers',
    (value) => {
      expect(() => loadConfig({ RUN_WORKERS: value })).toThrow(ConfigError);
      expect(refusalOf({ RUN_WORKERS: value })).toMatch(/^\s+RUN_WORKERS: /m);
    },
  );
});

describe('the Ollama profile, as documented', () => {
  // Each place that tells how to use the profile without docker-compose.ollama.yml (which
  // sets LLM_MODEL itself): the block of lines from the command to the next blank line.
  const blocks = (file: string) => {
    const lines = readFileSync(resolve(ROOT, file), 'utf8').split('\n');
    return lines.flatMap((line, i) => {
      if (!line.includes('--profile ollama up') || line.includes('docker-compose.ollama.yml')) {
        return [];
      }
      const end = lines.findIndex((l, j) => j > i && l.replace(/^#/, '').trim() === '');
      return [lines.slice(i, end === -1 ? undefined : end).join('\n')];
    });
  };

  it.each(['README.md', 'docker-compose.yml'])(
    '%s names LLM_MODEL beside OPENAI_BASE_URL (the default, gpt-4o-mini, is no Ollama model)',
    (file) => {
      const found = blocks(file);
      expect(found.length).toBeGreaterThan(0);
      for (const block of found) {
        expect(block).toContain('OPENAI_BASE_URL=http://ollama:11434/v1');
        expect(block).toMatch(/LLM_MODEL=\S+/);
      }
    },
  );
});
