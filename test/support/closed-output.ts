import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Runs `script` (under src/app) with the reader of its stdout, or of its stderr, gone
 * before it writes anything, as `npm run eval | head -0` (or `2>&1 | head -0`) leaves it:
 * resolves with the exit code and what it wrote to the stream still read.
 */
export function runWithClosedOutput(
  script: string,
  args: readonly string[],
  closed: 'stdout' | 'stderr' = 'stdout',
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | string | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env });
  const [gone, read] =
    closed === 'stdout' ? [child.stdout, child.stderr] : [child.stderr, child.stdout];
  gone.destroy();
  let output = '';
  read.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((done) =>
    child.once('exit', (status, signal) => done({ code: status ?? signal, output })),
  );
}
