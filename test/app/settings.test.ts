import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigSchema, loadConfig } from '../../src/app/config.js';
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
