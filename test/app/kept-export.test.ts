import { describe, expect, it } from 'vitest';
import { keptExportCommand } from '../../src/app/kept-export.js';

describe("the export command the demo's --keep prints", () => {
  const tail = 'npm run export -- --platform console --workspace demo --out demo-export';

  it('names the Redis and the prefix the rounds were kept in', () => {
    expect(keptExportCommand('redis://127.0.0.1:6379/5', 'dlb-demo-42', 'demo')).toBe(
      `REDIS_URL=redis://127.0.0.1:6379/5 REDIS_PREFIX=dlb-demo-42 ${tail}`,
    );
    expect(keptExportCommand('/tmp/redis.sock', 'p-demo-1', 'demo')).toBe(
      `REDIS_URL=/tmp/redis.sock REDIS_PREFIX=p-demo-1 ${tail}`,
    );
  });

  it('never prints a password, in the URL or in its query', () => {
    for (const url of [
      'redis://:s3cret-pw@127.0.0.1:6379',
      'redis://bot:s3cret-pw@redis.internal:6379/2',
      'rediss://redis.internal:6380/?password=s3cret-pw',
    ]) {
      const command = keptExportCommand(url, 'p-demo-1', 'demo');
      expect(command).not.toContain('s3cret-pw');
      expect(command).toBe(`REDIS_URL='<your REDIS_URL>' REDIS_PREFIX=p-demo-1 ${tail}`);
    }
  });

  it('quotes a URL the shell would split or expand', () => {
    expect(keptExportCommand("redis://127.0.0.1:6379/0?db=1&x=it's", 'p', 'demo')).toBe(
      `REDIS_URL='redis://127.0.0.1:6379/0?db=1&x=it'\\''s' REDIS_PREFIX=p ${tail}`,
    );
  });
});
