import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { deletePrefix, testRedis } from '../support/redis.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** A fresh folder under the system's temp dir, removed when the test ends. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The redis-server processes whose command line names `dir` (the demo's throwaway ones). */
function redisServersUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (cmdline.includes('redis-server') && cmdline.includes(dir)) pids.push(Number(entry));
  }
  return pids;
}

/** The throwaway servers' folders the demo made under `tmp`. */
function throwawayFolders(tmp: string): string[] {
  return readdirSync(tmp).filter((d) => d.startsWith('dlb-redis-'));
}

function runDemo(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/app/demo.ts', ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** A `redis-server` on PATH that runs the shell `script` instead of the real one. */
function redisServerStub(script: string): string {
  const bin = tempDir('redis-stub-');
  const file = join(bin, 'redis-server');
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
  return bin;
}

/** The real redis-server's path, for a stub that wraps it. */
function realRedisServer(): string {
  return spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
}

/**
 * A `redis-server` on PATH that runs the real one but takes a second to stop, touching
 * `marker` when asked to: a cleanup then surely lasts until a test's signal lands.
 */
function slowStoppingRedis(marker: string): string {
  const real = realRedisServer();
  return redisServerStub(
    [
      `[ "$1" = --version ] && exec "${real}" "$@"`,
      `"${real}" "$@" &`,
      'pid=$!',
      `trap 'touch "${marker}"; sleep 1; kill -TERM $pid' TERM`,
      'wait $pid',
      'wait $pid',
    ].join('\n'),
  );
}

/** Kills, when the test ends, any server a broken cleanup left under `tmp`. */
function killServersLeftUnder(tmp: string): void {
  onTestFinished(() => {
    for (const pid of redisServersUnder(tmp)) process.kill(pid, 'SIGKILL');
  });
}

/** The demo, running, with its output collected; `exited` is its exit code or signal. */
function spawnDemo(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/demo.ts', ...args], {
    cwd: ROOT,
    env,
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const exited = new Promise<number | string | null>((done) =>
    child.once('exit', (status, signal) => done(status ?? signal)),
  );
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output, exited };
}

/** The exit code or signal, or 'still running' once `ms` have passed. */
function exitWithin(exited: Promise<number | string | null>, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    exited,
    new Promise<string>((r) => {
      timer = setTimeout(() => r('still running'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('npm run demo', () => {
  it('plays a whole round offline and exits 0', () => {
    const env = { ...process.env, REDIS_URL: '', LOG_LEVEL: 'warn' };
    const run = runDemo(['--scenario', 'four-day-week', '--seed', '3'], env);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Should our team adopt a four-day week?');
    expect(run.stdout).toMatch(/Statement \(version 1\)/);
    expect(run.stdout).toMatch(/Predicted approval per member:/);
    expect(run.stdout).toMatch(/📊 Results/);
    expect(run.stdout).toMatch(/least served/);
    // The critique round: critiques, a revised statement and results for both versions.
    expect(run.stdout).toMatch(/✍️ {2}\S+: It leaves out what matters most to me/);
    expect(run.stdout).toMatch(/Statement \(version 2\)/);
    expect(run.stdout).toMatch(/Version 1:[\s\S]*Version 2:/);
  });

  it('runs under a TMPDIR too deep for a unix socket path, and leaves nothing there', () => {
    const deep = join(mkdtempSync(join(tmpdir(), 'dlb-deep-')), 'x'.repeat(90));
    mkdirSync(deep);
    onTestFinished(() => rmSync(dirname(deep), { recursive: true, force: true }));
    const env = { ...process.env, REDIS_URL: '', LOG_LEVEL: 'warn', TMPDIR: deep };
    const run = runDemo(['--scenario', 'four-day-week', '--no-critique'], env);
    expect(run.stderr).not.toMatch(/socket path too long/i);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/📊 Results/);
    // (tsx keeps its cache there; the demo's Redis folder went to /tmp and is gone.)
    expect(readdirSync(deep).filter((name) => name.startsWith('dlb-redis-'))).toEqual([]);
  });

  it('replays the same statements for the same --seed', () => {
    const env = { ...process.env, REDIS_URL: '', LOG_LEVEL: 'warn' };
    // Each statement as posted, with how it was chosen (versions 1 and 2).
    const statements = (stdout: string) =>
      [...stdout.matchAll(/🗳 {2}Statement[\s\S]*?Chosen from[^\n]*/g)].map((m) => m[0]);
    const first = runDemo(['--seed', '7'], env);
    const second = runDemo(['--seed', '7'], env);
    expect(first.status).toBe(0);
    expect(second.status).toBe(0);
    expect(statements(first.stdout)).toHaveLength(2);
    expect(statements(second.stdout)).toEqual(statements(first.stdout));
  });

  it('plays --rounds in one workspace: once it has LEARNED_MIN_RATINGS ratings, the learned model is blended in', () => {
    const env = { ...process.env, REDIS_URL: '', LOG_LEVEL: 'warn', LEARNED_MIN_RATINGS: '10' };
    const run = runDemo(['--rounds', '2', '--seed', '2'], env);
    expect(run.status).toBe(0);
    const rounds = run.stdout.split(/━━ Round \d of 2/).slice(1);
    expect(rounds).toHaveLength(2);
    // Each round asks its own question, and says which model predicted its approvals.
    const questions = rounds.map((r) => /❓ Round \w+: (.*)/.exec(r)?.[1]);
    expect(new Set(questions).size).toBe(2);
    const chosen = rounds.map((r) =>
      [...r.matchAll(/Approvals predicted by (.*)\./g)].map((m) => m[1]),
    );
    // Two polls of seven ratings a round. Round 1's revision is scored on 7 stored ratings;
    // round 2's first statement on 14, but its group is new (nobody in it has rated), so
    // the base model alone predicts; its revision, on 21, after that group rated.
    expect(chosen[0]).toEqual(['lexical-tfidf', 'lexical-tfidf']);
    expect(chosen[1]?.[0]).toBe('lexical-tfidf');
    expect(chosen[1]?.[1]).toMatch(/^lexical-tfidf blended with learned \(21 ratings\)$/);
    const models = rounds.map((r) => /approvals were predicted by (.*)/.exec(r)?.[1]);
    expect(models[0]).toBe('lexical-tfidf');
    expect(models[1]).toMatch(/blended with learned \(21 ratings\)/);
  });

  it('keeps its rounds with --keep in the Redis of REDIS_URL, for npm run export to write as Polis files', async () => {
    const redisEnv = testRedis();
    const redis = redisEnv.connect();
    onTestFinished(async () => {
      await deletePrefix(redis, redisEnv.prefix);
      await redis.quit();
    });
    const env = {
      ...process.env,
      REDIS_URL: redisEnv.url,
      REDIS_PREFIX: redisEnv.prefix,
      LOG_LEVEL: 'warn',
    };
    const run = runDemo(['--keep', '--no-critique'], env);
    expect(run.status).toBe(0);
    // The command as printed names the Redis too: REDIS_URL is often set for the demo alone.
    const kept =
      /REDIS_URL=(\S+) REDIS_PREFIX=(\S+) npm run export -- --platform console --workspace demo --out demo-export/.exec(
        run.stdout,
      );
    expect(kept?.[1]).toBe(redisEnv.url);
    expect(kept?.[2]).toMatch(new RegExp(`^${redisEnv.prefix}-demo-\\d+$`));
    const out = tempDir('demo-keep-');
    const exported = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/app/export.ts',
        '--platform',
        'console',
        '--workspace',
        'demo',
        '--out',
        out,
      ],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, REDIS_URL: kept?.[1] ?? '', REDIS_PREFIX: kept?.[2] ?? '' },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(exported.status).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'comments.csv',
      'participants-votes.csv',
      'summary.csv',
      'votes.csv',
    ]);
    // Without it, the demo leaves nothing behind in a shared Redis.
    expect(runDemo(['--no-critique'], env).status).toBe(0);
    expect(await redis.keys(`${redisEnv.prefix}-demo-*`)).toEqual(
      expect.arrayContaining([expect.stringContaining(kept?.[2] ?? '?')]),
    );
    const others = (await redis.keys(`${redisEnv.prefix}-demo-*`)).filter(
      (k) => !k.startsWith(`${kept?.[2]}:`),
    );
    expect(others).toEqual([]);
  });

  it('refuses --keep without REDIS_URL: the throwaway Redis goes with the demo', () => {
    const run = runDemo(['--keep'], { ...process.env, REDIS_URL: '' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--keep needs REDIS_URL');
  });

  it('says how to get a Redis and exits non-zero when there is none', () => {
    // A PATH with node but without redis-server.
    const bin = tempDir('no-redis-');
    symlinkSync(process.execPath, join(bin, 'node'));
    const run = runDemo([], { ...process.env, REDIS_URL: '', PATH: bin });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/REDIS_URL is unset and no `redis-server` is on PATH/);
    expect(run.stderr).toMatch(/apt-get install redis-server/);
  });

  it('rejects unknown flags with the usage text', () => {
    const run = runDemo(['--nope'], { ...process.env, REDIS_URL: '' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/Usage: npm run demo/);
  });

  it.each([
    [['--welfare', 'fair'], /--welfare takes one of utilitarian, egalitarian, nash, schulze/],
    [['--scenario', 'nope'], /Unknown scenario "nope"/],
    [['--scenario', ''], /Unknown scenario ""/],
    [['--seed', '1', '--seed', '2'], /--seed is given twice: give it once/],
    // A negative value after a space reads to parseArgs as another option.
    [['--seed', '-1'], /--seed takes a whole number/],
    // Number() would read these as 0, 1e99 and 16; past 2^32 - 1 the rng wraps round.
    [['--seed', ''], /--seed takes a whole number from 0 to 4294967295/],
    [['--seed', '1e99'], /--seed takes a whole number from 0 to 4294967295/],
    [['--seed', '0x10'], /--seed takes a whole number from 0 to 4294967295/],
    [['--seed', '4294967296'], /--seed takes a whole number from 0 to 4294967295/],
    [['--rounds', '0'], /--rounds takes a whole number from 1 to 10/],
    [['--rounds', '2.5'], /--rounds takes a whole number from 1 to 10/],
    [['--bank', '--question', 'Hi?'], /--question and --bank each choose the question/],
    [
      ['--scenario', 'four-day-week', '--question', 'Hi?'],
      /--question and --scenario each choose the question/,
    ],
  ])('says what is wrong with %j, exits 2 and starts no Redis', (args, message) => {
    const tmp = tempDir('demo-tmp-');
    const run = runDemo(args, { ...process.env, REDIS_URL: '', TMPDIR: tmp });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(readdirSync(tmp).filter((d) => d.startsWith('dlb-redis-'))).toEqual([]);
  });

  it.each([
    ['empty', '', /--question is empty: give the question to ask/],
    ['blank', '   ', /--question is empty: give the question to ask/],
    ['501 characters long', 'x'.repeat(501), /--question has 501 characters; the most is 500\./],
  ])('refuses a --question that is %s with exit 2 and starts no Redis', (_, question, message) => {
    const tmp = tempDir('demo-tmp-');
    const run = runDemo(['--question', question], { ...process.env, REDIS_URL: '', TMPDIR: tmp });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(throwawayFolders(tmp)).toEqual([]);
  });

  it('lets the simulated members of a question that is only "?" quote it, not an empty string', () => {
    const run = runDemo(['--question', '?', '--no-critique'], { ...process.env, REDIS_URL: '' });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/The answer to "\?" is (yes|no)/);
    expect(run.stdout).not.toContain('The answer to ""');
  });

  // SIGHUP: the terminal or SSH session closed under it; Node's default death kept no server down.
  it.each([
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('stops its throwaway Redis when interrupted by %s', async (signal, exitCode) => {
    const tmp = tempDir('demo-tmp-');
    // Without the handler the server outlives the test: stop it, so the check fails alone.
    onTestFinished(() => {
      for (const pid of redisServersUnder(tmp)) process.kill(pid, 'SIGKILL');
    });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/demo.ts'], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: '', TMPDIR: tmp },
    });
    let out = '';
    let killed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!killed && out.includes('❓ Round')) {
        killed = true;
        child.kill(signal);
      }
    });
    const code = await new Promise((done) =>
      child.once('exit', (status, signalled) => done(status ?? signalled)),
    );
    expect(out).toContain('❓ Round');
    expect(code).toBe(exitCode);
    expect(redisServersUnder(tmp)).toEqual([]);
    // The throwaway server's folder (socket and all) is gone, so the server is too.
    expect(readdirSync(tmp).filter((d) => d.startsWith('dlb-redis-'))).toEqual([]);
  });

  it('cleans up and exits 0 when the reader of its output stops early (`| head`)', async () => {
    const tmp = tempDir('demo-tmp-');
    // Without the fix the server outlives the test: stop it, so the check fails alone.
    onTestFinished(() => {
      for (const pid of redisServersUnder(tmp)) process.kill(pid, 'SIGKILL');
    });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/demo.ts'], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: '', LOG_LEVEL: 'warn', TMPDIR: tmp },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Like `head -1`: the banner comes once the throwaway server runs; then the pipe closes.
    let banner = '';
    let foldersWhileRunning: string[] = [];
    child.stdout.once('data', (chunk: Buffer) => {
      banner = chunk.toString();
      foldersWhileRunning = throwawayFolders(tmp);
      child.stdout.destroy();
    });
    const code = await new Promise((done) =>
      child.once('exit', (status, signal) => done(status ?? signal)),
    );
    expect(banner).toContain('Consensus bot demo');
    expect(foldersWhileRunning).toHaveLength(1);
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
    expect(redisServersUnder(tmp)).toEqual([]);
    expect(throwawayFolders(tmp)).toEqual([]);
  });

  it.each([[''], ['   '], [' warn ']])('reads LOG_LEVEL=%j as start and worker do', (level) => {
    const run = runDemo(['--no-critique'], { ...process.env, REDIS_URL: '', LOG_LEVEL: level });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Demo finished in/);
  });

  it.each([
    [{ LLM_TIMEOUT_MS: '1.5' }, /LLM_TIMEOUT_MS: must be a whole number/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL: /],
  ])('exits 2 on the bad setting %j, naming it, and starts no Redis', (setting, message) => {
    const tmp = tempDir('demo-tmp-');
    const run = runDemo([], { ...process.env, REDIS_URL: '', TMPDIR: tmp, ...setting });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Invalid configuration:/);
    expect(run.stderr).toMatch(message);
    expect(throwawayFolders(tmp)).toEqual([]);
  });

  it('refuses a --chart path it cannot write before anything starts, exit 2', () => {
    const tmp = tempDir('demo-tmp-');
    const missing = join(tmp, 'missing', 'chart.png');
    const run = runDemo(['--chart', missing], { ...process.env, REDIS_URL: '', TMPDIR: tmp });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      `--chart ${missing}: cannot write the chart: the folder ${join(tmp, 'missing')} does not exist.`,
    );
    const folder = runDemo(['--chart', tmp], { ...process.env, REDIS_URL: '', TMPDIR: tmp });
    expect(folder.status).toBe(2);
    expect(folder.stderr).toMatch(/is a folder; give a file name/);
    const empty = runDemo(['--chart', ''], { ...process.env, REDIS_URL: '', TMPDIR: tmp });
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/--chart : cannot write the chart: the file name is empty/);
    expect(throwawayFolders(tmp)).toEqual([]);
  });

  // /dev/full takes the open and refuses the write (ENOSPC), as a full disk would.
  it.skipIf(!existsSync('/dev/full'))(
    'says the chart was not written and exits 1 when the write fails',
    () => {
      const run = runDemo(['--no-critique', '--chart', '/dev/full'], {
        ...process.env,
        REDIS_URL: '',
        LOG_LEVEL: 'warn',
      });
      expect(run.status).toBe(1);
      expect(run.stdout).toMatch(/📊 Results/);
      expect(run.stdout).not.toMatch(/chart written to/);
      expect(run.stderr).toBe(
        'Demo failed: the results chart could not be written to /dev/full (ENOSPC: no space left on device, write)\n',
      );
    },
  );

  it.each([[1], [2]])(
    'exits after %i Ctrl-C once its throwaway Redis was killed by a signal, leaving no folder',
    async (interrupts) => {
      const tmp = tempDir('demo-tmp-');
      killServersLeftUnder(tmp);
      const demo = spawnDemo([], {
        ...process.env,
        REDIS_URL: '',
        LOG_LEVEL: 'silent',
        TMPDIR: tmp,
        SHUTDOWN_TIMEOUT_MS: '1000',
      });
      await new Promise<void>((ready) => {
        demo.child.stdout.on('data', () => {
          if (demo.output.stdout.includes('❓ Round')) ready();
        });
      });
      const servers = redisServersUnder(tmp);
      expect(servers).toHaveLength(1);
      // As the OOM killer would: the server's exit has been seen before anything stops it.
      for (const pid of servers) process.kill(pid, 'SIGKILL');
      await sleep(300);
      for (let i = 0; i < interrupts; i++) {
        demo.child.kill('SIGINT');
        await sleep(300);
      }
      expect(await exitWithin(demo.exited, 10_000)).toBe(130);
      expect(throwawayFolders(tmp)).toEqual([]);
    },
  );

  it('stops a redis-server that never becomes ready and removes its folder, exit 1', async () => {
    const tmp = tempDir('demo-tmp-');
    killServersLeftUnder(tmp);
    // Answers the --version probe, then hangs without ever saying it is ready.
    const bin = redisServerStub('[ "$1" = --version ] && exit 0\nwhile :; do sleep 1; done');
    const demo = spawnDemo([], {
      ...process.env,
      REDIS_URL: '',
      TMPDIR: tmp,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
    });
    expect(await exitWithin(demo.exited, 20_000)).toBe(1);
    expect(demo.output.stderr).toMatch(/^Demo failed: redis-server did not start/);
    expect(redisServersUnder(tmp)).toEqual([]);
    expect(throwawayFolders(tmp)).toEqual([]);
  }, 30_000);

  it('exits 0 when a Ctrl-C lands during the cleanup after a finished round', async () => {
    const tmp = tempDir('demo-tmp-');
    killServersLeftUnder(tmp);
    // The real server, slow to stop, so the cleanup surely lasts until the signal lands.
    const bin = slowStoppingRedis(join(tmp, 'stopping'));
    const demo = spawnDemo(['--no-critique'], {
      ...process.env,
      REDIS_URL: '',
      LOG_LEVEL: 'warn',
      TMPDIR: tmp,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
    });
    let interrupted = false;
    demo.child.stdout.on('data', () => {
      if (!interrupted && demo.output.stdout.includes('Demo finished in')) {
        interrupted = true;
        demo.child.kill('SIGINT');
      }
    });
    expect(await exitWithin(demo.exited, 30_000)).toBe(0);
    expect(interrupted).toBe(true);
    expect(demo.output.stderr).toBe('');
    expect(throwawayFolders(tmp)).toEqual([]);
  }, 40_000);

  it('still says why it failed when a Ctrl-C lands during the cleanup after a failure', async () => {
    const tmp = tempDir('demo-tmp-');
    killServersLeftUnder(tmp);
    const marker = join(tmp, 'stopping');
    // The real server, slow to stop, and saying when the cleanup has begun to stop it.
    const bin = slowStoppingRedis(marker);
    // A model server nobody runs, and no waiting or retrying for it: the round fails fast.
    const demo = spawnDemo(['--no-critique'], {
      ...process.env,
      REDIS_URL: '',
      LOG_LEVEL: 'silent',
      TMPDIR: tmp,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      OPENAI_API_KEY: 'sk-test',
      LLM_SERVER_WAIT_MS: '0',
      LLM_MAX_RETRIES: '0',
      JOB_ATTEMPTS: '1',
    });
    let interrupted = false;
    const started = Date.now();
    while (!interrupted && Date.now() - started < 30_000) {
      if (existsSync(marker)) {
        interrupted = true;
        demo.child.kill('SIGINT');
      } else await sleep(20);
    }
    expect(interrupted).toBe(true);
    expect(await exitWithin(demo.exited, 30_000)).toBe(1);
    expect(demo.output.stderr).toMatch(/Demo failed: the statement could not be produced/);
    expect(throwawayFolders(tmp)).toEqual([]);
  }, 60_000);
});
