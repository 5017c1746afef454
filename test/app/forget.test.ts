import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Scope } from '../../src/domain/scope.js';
import { QUEUE_NAMES } from '../../src/pipeline/queues.js';
import { finish, rate, roundToPoll } from '../deliberation/learning-support.js';
import { type Harness, publishAtRest, SCOPE, startHarness, until } from '../support/harness.js';

const OTHER: Scope = { platform: 'console', workspaceId: 'W2' };

/** `npm run forget -- <args>` as a process, on the test Redis under `prefix`. */
function runForget(args: string[], prefix: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/app/forget.ts', ...args], {
    cwd: join(import.meta.dirname, '../..'),
    env: { ...process.env, REDIS_URL: inject('redisUrl'), REDIS_PREFIX: prefix },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

const args = (scope: Scope) => ['--platform', scope.platform, '--workspace', scope.workspaceId];

describe('npm run forget: a workspace’s data deleted, and nobody else’s', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  /** A finished, rated round (so the workspace has a ratings matrix) and a poll deadline queued. */
  async function ratedWorkspace(harness: Harness, scope: Scope) {
    const { round, statementMessageId } = await roundToPoll(harness, scope);
    await rate(harness, scope, statementMessageId, { ana: 'agree', ben: 'disagree' });
    await finish(harness, scope, round.id);
    await harness.runtime.queues.scheduleDeadline(
      { scope, roundId: round.id, phase: 'polling', version: 1 },
      Date.now() + 3_600_000,
      Date.now(),
    );
    return round;
  }

  const keysOf = (harness: Harness, scope: Scope) =>
    harness.redis.keys(`${harness.prefix}:${scope.platform}.${scope.workspaceId}:*`);
  const deadlinesOf = async (harness: Harness, scope: Scope) =>
    (await harness.runtime.queues.deadline.getJobs(['delayed', 'waiting'])).filter(
      (j) => (j.data as { scope: Scope }).scope.workspaceId === scope.workspaceId,
    );

  it('says what it would delete without --yes, then deletes rounds, ratings, matrix and jobs of that workspace only', async () => {
    h = await startHarness();
    const harness = h;
    await ratedWorkspace(harness, SCOPE);
    const kept = await ratedWorkspace(harness, OTHER);
    await until(async () => (await harness.runtime.store.rounds.phaseCounts()).closed === 2);
    // The last messages (results, progress) may still be going out, each under a slot lock
    // key of its own: the snapshot is of the workspaces at rest.
    await publishAtRest(harness);
    const before = await keysOf(harness, SCOPE);
    const othersBefore = (await keysOf(harness, OTHER)).sort();
    expect(before.length).toBeGreaterThan(5);
    expect(await harness.runtime.store.ratingsMatrix.count(SCOPE)).toBeGreaterThan(0);

    const dry = runForget(args(SCOPE), harness.prefix);
    expect(dry.stderr).toBe('');
    expect(dry.status).toBe(0);
    expect(dry.stdout).toBe(
      `console workspace ${SCOPE.workspaceId}: 1 round in ${before.length} keys, and its queued jobs, would be deleted. Run again with --yes to delete them.\n`,
    );
    expect((await keysOf(harness, SCOPE)).length).toBe(before.length);

    const done = runForget([...args(SCOPE), '--yes'], harness.prefix);
    expect(done.stderr).toBe('');
    expect(done.status).toBe(0);
    expect(done.stdout).toMatch(
      new RegExp(
        `^console workspace ${SCOPE.workspaceId}: deleted 1 round \\(${before.length} keys\\) and [1-9]\\d* queued jobs?\\.\\n$`,
      ),
    );
    expect(await keysOf(harness, SCOPE)).toEqual([]);
    expect(await harness.runtime.store.ratingsMatrix.count(SCOPE)).toBe(0);
    expect(await deadlinesOf(harness, SCOPE)).toEqual([]);
    // The other workspace keeps everything, and the metrics count only its round.
    expect((await keysOf(harness, OTHER)).sort()).toEqual(othersBefore);
    expect(await deadlinesOf(harness, OTHER)).toHaveLength(1);
    expect((await harness.runtime.store.rounds.phaseCounts()).closed).toBe(1);
    expect(await harness.runtime.store.rounds.get(OTHER, kept.id)).not.toBeNull();
    expect(await harness.runtime.store.rounds.recent(SCOPE, 10)).toEqual([]);
  }, 60_000);

  it('leaves a workspace whose id starts with the forgotten one’s untouched', async () => {
    // Tenant roots are `<root>:<platform>.<workspaceId>`: only the `:` after the root tells
    // W1's keys from W12's, so a pattern without it would sweep W12's keys into W1's erase.
    h = await startHarness();
    const harness = h;
    const PREFIXED: Scope = { platform: 'console', workspaceId: `${SCOPE.workspaceId}2` };
    await ratedWorkspace(harness, SCOPE);
    const kept = await ratedWorkspace(harness, PREFIXED);
    await until(async () => (await harness.runtime.store.rounds.phaseCounts()).closed === 2);
    await publishAtRest(harness);
    await publishAtRest(harness, PREFIXED);
    const own = await keysOf(harness, SCOPE);
    const othersBefore = (await keysOf(harness, PREFIXED)).sort();
    expect(othersBefore.length).toBeGreaterThan(5);
    const { tenants } = harness.runtime.store;

    // The survey counts W1's keys only, and the erase deletes those and no more.
    expect(await tenants.survey(SCOPE)).toEqual({ rounds: 1, keys: own.length });
    expect(await tenants.erase(SCOPE)).toEqual({ rounds: 1, keys: own.length });
    expect(await keysOf(harness, SCOPE)).toEqual([]);
    expect((await keysOf(harness, PREFIXED)).sort()).toEqual(othersBefore);
    expect(await tenants.survey(PREFIXED)).toEqual({ rounds: 1, keys: othersBefore.length });
    expect(await harness.runtime.store.ratingsMatrix.count(PREFIXED)).toBeGreaterThan(0);
    expect(await harness.runtime.store.rounds.get(PREFIXED, kept.id)).not.toBeNull();
  }, 60_000);

  it('counts only the rounds it deleted, not index entries whose round is already gone', async () => {
    // After an interrupted earlier erase the rounds index can list a round whose key is
    // gone; the operator's report must not count it as deleted.
    h = await startHarness();
    const harness = h;
    await ratedWorkspace(harness, SCOPE);
    const gone = await roundToPoll(harness, SCOPE);
    await publishAtRest(harness);
    const root = `${harness.prefix}:${SCOPE.platform}.${SCOPE.workspaceId}`;
    await harness.redis.del(`${root}:round:${gone.round.id}`);
    expect(await harness.redis.zcard(`${root}:rounds`)).toBe(2);
    const left = (await keysOf(harness, SCOPE)).length;

    expect(await harness.runtime.store.tenants.erase(SCOPE)).toEqual({ rounds: 1, keys: left });
    expect(await keysOf(harness, SCOPE)).toEqual([]);
  }, 60_000);

  it('refuses missing or bad flags with the usage, before reading Redis', () => {
    const missing = runForget(['--platform', 'slack'], 'unused');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('forget: missing --workspace');
    expect(missing.stderr).toContain('usage: npm run forget');
    const platform = runForget(['--platform', 'teams', '--workspace', 'T1'], 'unused');
    expect(platform.status).toBe(2);
    expect(platform.stderr).toMatch(/^forget: --platform: /);
    const workspace = runForget(['--platform', 'slack', '--workspace', 'T1:*'], 'unused');
    expect(workspace.status).toBe(2);
    expect(workspace.stderr).toMatch(/^forget: --workspace: ids may hold/);
  });

  it('deletes nothing while a worker runs one of the workspace’s jobs, and says so', async () => {
    h = await startHarness();
    const harness = h;
    const round = await ratedWorkspace(harness, SCOPE);
    // A worker busy with one of its jobs: a stage that would find its round gone. The
    // harness's own select workers step aside, so this one takes it.
    await Promise.all(
      harness.runtime.workers.filter((w) => w.name === QUEUE_NAMES.select).map((w) => w.pause()),
    );
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const connection = harness.redis.duplicate();
    const busy = new Worker(QUEUE_NAMES.select, () => held, {
      connection,
      prefix: harness.runtime.queues.options.prefix,
    });
    await harness.runtime.queues.select.add('select', {
      scope: SCOPE,
      roundId: round.id,
      version: 1,
      attempt: 9,
    });
    await until(async () => (await harness.runtime.queues.select.getJobs(['active'])).length > 0);
    const keys = (await keysOf(harness, SCOPE)).length;

    const refused = runForget([...args(SCOPE), '--yes'], harness.prefix);
    release();
    await busy.close();
    connection.disconnect();
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(
      `forget: 1 job of console workspace ${SCOPE.workspaceId} is running in a worker now; nothing of the workspace's data was deleted`,
    );
    expect((await keysOf(harness, SCOPE)).length).toBe(keys);
    // Its queued jobs stay too: a round kept must keep its deadline.
    expect(await deadlinesOf(harness, SCOPE)).toHaveLength(1);
  }, 60_000);
});
