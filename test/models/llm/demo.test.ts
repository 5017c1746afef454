import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../../fakes/openai.js';

const ROOT = resolve(import.meta.dirname, '../../..');

/** Runs the demo without blocking this process, which serves the fake. */
function runDemo(args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/demo.ts', ...args], {
      cwd: ROOT,
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

describe('npm run demo against the fake OpenAI server', () => {
  let fake: FakeOpenAI | undefined;
  afterEach(async () => {
    await fake?.close();
  });

  it('takes the model path and prints the round’s model calls and tokens', async () => {
    fake = await FakeOpenAI.start();
    const run = await runDemo(['--scenario', 'four-day-week', '--seed', '3'], {
      ...process.env,
      REDIS_URL: '',
      LOG_LEVEL: 'warn',
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: '',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(
      /model server http:\/\/127\.0\.0\.1:\d+\/v1: generator llm \(gpt-4o-mini\)/,
    );
    expect(run.stdout).toMatch(/Approvals predicted by llm judge \(gpt-4o-mini\)/);
    const members = fake.chatBodies('approval_ratings').length;
    // K = 8 for the statement, and 8 again for the critique round's revision (the demo plays one).
    expect(fake.chatBodies('consensus_statement')).toHaveLength(16);
    expect(members).toBeGreaterThan(2);
    expect(run.stdout).toMatch(/Model use this round:/);
    expect(run.stdout).toMatch(/generate\s+16 calls\s+[\d,]+ prompt \+\s+[\d,]+ completion tokens/);
    expect(run.stdout).toMatch(new RegExp(`score\\s+${members} calls`));
    expect(run.stdout).toMatch(new RegExp(`total\\s+${16 + members} calls`));
  });

  it('prints that the round used no model calls when offline', async () => {
    const run = await runDemo(['--scenario', 'four-day-week', '--seed', '3'], {
      ...process.env,
      REDIS_URL: '',
      LOG_LEVEL: 'warn',
      OPENAI_BASE_URL: '',
      OPENAI_API_KEY: '',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Model use this round: no model calls \(offline models\)\./);
  });
});

/** A port nothing listens on: a model server that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise((done) => server.close(done));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

// Each run takes just over 30 s, the wait the demo once had for a statement whatever the
// settings; the two run side by side.
describe.concurrent('npm run demo with a slow or absent model server', () => {
  it('waits as long as the model settings allow for a slow server', async ({
    expect,
    onTestFinished,
  }) => {
    // Generation and then scoring each make one wave of requests, 17 s apiece.
    const slow = await FakeOpenAI.start({ latencyMs: 17_000 });
    onTestFinished(() => slow.close());
    const run = await runDemo(['--scenario', 'four-day-week', '--no-critique'], {
      ...process.env,
      REDIS_URL: '',
      LOG_LEVEL: 'warn',
      OPENAI_BASE_URL: slow.baseURL,
      OPENAI_API_KEY: '',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Statement \(version 1\)/);
    expect(run.stdout).toMatch(/Demo finished in (3\d|[4-9]\d)\.\d s\./);
  }, 90_000);

  it('reports why the round failed when the model server is down, exit 1', async ({ expect }) => {
    const run = await runDemo(['--scenario', 'four-day-week', '--no-critique'], {
      ...process.env,
      REDIS_URL: '',
      LOG_LEVEL: 'silent',
      OPENAI_BASE_URL: `http://127.0.0.1:${await closedPort()}/v1`,
      OPENAI_API_KEY: '',
      LLM_SERVER_WAIT_MS: '32000',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /^Demo failed: the statement could not be produced: the model server was unavailable for 3\d s, as long as LLM_SERVER_WAIT_MS allows .*; check that it is running and reachable at OPENAI_BASE_URL\n$/,
    );
  }, 90_000);
});
