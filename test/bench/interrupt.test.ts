import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** Every descendant of a process (Linux /proc), children before grandchildren. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    const tasks = existsSync(`/proc/${p}/task`) ? readdirSync(`/proc/${p}/task`) : [];
    for (const t of tasks) {
      const file = `/proc/${p}/task/${t}/children`;
      const kids = existsSync(file) ? readFileSync(file, 'utf8').trim().split(/\s+/) : [];
      for (const k of kids.filter((x) => x !== '').map(Number)) {
        out.push(k);
        queue.push(k);
      }
    }
  }
  return out;
}

/** Gone, or a zombie waiting for init: either way no longer running. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

describe('npm run bench, interrupted', () => {
  it('a SIGTERM stops its worker process and redis-server and exits 143', async () => {
    const bench = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--runs', '1', '--warmup', '0', '--latency', '50'],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<number | null>((r) => bench.once('exit', (code) => r(code)));
    // The first measurement starts once redis-server and the worker are up.
    await new Promise<void>((ready, fail) => {
      bench.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('bench: ours N=10 K=8')) ready();
      });
      void exited.then(() => fail(new Error(`the bench ended first:\n${stderr}`)));
    });
    const children = descendants(bench.pid as number);
    const names = children.map((p) =>
      readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' '),
    );
    expect(names.some((n) => n.includes('redis-server'))).toBe(true);
    expect(names.some((n) => n.includes('dist/app/worker.js'))).toBe(true);
    bench.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(stderr).toContain('SIGTERM: stopping the worker and redis-server');
    expect(children.filter(running)).toEqual([]);
  }, 90_000);
});
