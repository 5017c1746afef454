import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Runs `script` (under src/app) with its stdout's reader gone before it writes anything,
 * as `npm run eval | head -0` leaves it: resolves with the exit code and stderr.
 */
export function runWithClosedStdout(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | string | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((done) =>
    child.once('exit', (status, signal) => done({ code: status ?? signal, stderr })),
  );
}
