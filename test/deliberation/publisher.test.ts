import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PlatformPort } from '../../src/deliberation/ports.js';
import { createPublisher } from '../../src/deliberation/publisher.js';
import type { ProgressView } from '../../src/deliberation/views.js';
import type { MessageRef } from '../../src/domain/round.js';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import type { Generator } from '../../src/models/ports.js';
import { Keys } from '../../src/store/keys.js';
import { MessageRepository, type SlotLock } from '../../src/store/messages.js';
import {
  type Harness,
  MODERATOR,
  postOpinions,
  publishAtRest,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

interface ProgressLog {
  posts: ProgressView[];
  edits: ProgressView[];
  /** What each message shows last, by message id. */
  shown?: Map<string, ProgressView>;
  removed?: string[];
}

/** A platform whose progress posts and edits take a while, as a rate-limited API would. */
function slowPort(log: ProgressLog, postMs = 30): PlatformPort {
  let id = 0;
  const slow = <T>(value: T, ms = 30) => new Promise<T>((r) => setTimeout(() => r(value), ms));
  const ref = (): MessageRef => ({ channelId: 'C1', messageId: `p${++id}`, threadId: null });
  return {
    postQuestion: async () => ref(),
    upsertProgress: async (view, existing) => {
      if (existing) {
        log.edits.push(view);
        log.shown?.set(existing.messageId, view);
        return slow(existing);
      }
      log.posts.push(view);
      const posted = ref();
      log.shown?.set(posted.messageId, view);
      return slow(posted, postMs);
    },
    removeProgress: async (removed) => {
      log.removed?.push(removed.messageId);
    },
    postStatement: async (_view, onPosted) => {
      const r = ref();
      await onPosted(r);
      return r;
    },
    postCritiqueInvite: async () => ref(),
    postResults: async () => ref(),
    postNotice: async () => null,
    directMessage: async () => undefined,
  };
}

describe('the publisher', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  it('posts one progress message however many progress jobs run at once, and ends on the newest state', async () => {
    const { round, thread } = await startRound(h);
    await postOpinions(h, thread.messageId);
    await h.runtime.service.close({ scope: SCOPE, channelId: 'C1' }, MODERATOR);
    await h.platform.waitFor('statement', round.id);
    // The run's own progress jobs may still be queued after the statement is out; let them
    // finish first, or one of them re-links the slot this test frees below.
    await publishAtRest(h);
    // Every stage is done now; replay four progress jobs of that run at once elsewhere.
    const log = { posts: [] as ProgressView[], edits: [] as ProgressView[] };
    const publish = createPublisher({
      store: h.runtime.store,
      service: h.runtime.service,
      platforms: { console: slowPort(log) },
      log: h.log,
    });
    // A fresh slot, so this publisher starts with no progress message of its own.
    await h.redis.hdel(`${h.prefix}:console.W1:round:${round.id}:messages`, 'progress:1');
    const job = {
      scope: SCOPE,
      roundId: round.id,
      kind: 'progress' as const,
      version: 1,
      text: null,
    };
    await Promise.all([publish(job), publish(job), publish(job), publish(job)]);
    expect(log.posts).toHaveLength(1);
    expect(log.edits).toHaveLength(3);
    expect(log.edits.at(-1)?.summary).toBe('Done: the statement is below.');
  });
});

/** The store's messages, with a slot lock that lasts `holdMs` instead of 30 s. */
class ShortLivedLocks extends MessageRepository {
  constructor(
    redis: Harness['redis'],
    prefix: string,
    private readonly holdMs: number,
  ) {
    super(redis, new Keys(prefix));
  }

  override withSlotLock<T>(
    scope: Parameters<MessageRepository['withSlotLock']>[0],
    roundId: string,
    slot: string,
    work: (lock: SlotLock) => Promise<T>,
  ): Promise<T> {
    return super.withSlotLock(scope, roundId, slot, work, { holdMs: this.holdMs, pollMs: 5 });
  }
}

describe('the progress message when a post outlasts the slot lock', () => {
  let h: Harness;
  let roundId: string;
  beforeEach(async () => {
    h = await startHarness();
    const { round, thread } = await startRound(h);
    roundId = round.id;
    await postOpinions(h, thread.messageId);
    await h.runtime.service.close({ scope: SCOPE, channelId: 'C1' }, MODERATOR);
    await h.platform.waitFor('statement', round.id);
    await publishAtRest(h);
    // A fresh slot, so the publishers below start with no progress message.
    await h.redis.hdel(messagesKey(), 'progress:1');
  });
  afterEach(async () => {
    await h.stop();
  });

  const messagesKey = () => `${h.prefix}:console.W1:round:${roundId}:messages`;
  const job = () => ({
    scope: SCOPE,
    roundId,
    kind: 'progress' as const,
    version: 1,
    text: null,
  });
  const publisherOn = (port: PlatformPort, holdMs: number) =>
    createPublisher({
      store: { ...h.runtime.store, messages: new ShortLivedLocks(h.redis, h.prefix, holdMs) },
      service: h.runtime.service,
      platforms: { console: port },
      log: h.log,
    });

  it('posts one message when the first post takes several of the lock’s lives', async () => {
    const log: ProgressLog = { posts: [], edits: [] };
    // Each post takes 600 ms, the lock lives 150 ms: renewed, it outlasts the post.
    const publish = publisherOn(slowPort(log, 600), 150);
    await Promise.all([publish(job()), publish(job()), publish(job()), publish(job())]);
    expect(log.posts).toHaveLength(1);
    expect(log.edits).toHaveLength(3);
    const linked = await h.runtime.store.messages.slot(SCOPE, roundId, 'progress:1');
    expect(linked?.messageId).toBe('p1');
  });

  it('does not link a stale message over the one posted after its lock was lost', async () => {
    const pollKey = `${h.prefix}:console.W1:round:${roundId}:poll:1`;
    const lockKey = `${h.prefix}:console.W1:round:${roundId}:lock:progress:1`;
    // The first job reads the run before the statement was chosen: two steps of three.
    await h.redis.rename(pollKey, `${pollKey}:aside`);
    const log: ProgressLog = { posts: [], edits: [], shown: new Map(), removed: [] };
    const port = slowPort(log);
    let second: Promise<void> = Promise.resolve();
    const stalled: PlatformPort = {
      ...port,
      upsertProgress: async (view, existing) => {
        if (existing || log.posts.length > 0) return port.upsertProgress(view, existing);
        // While this post hangs, the lock is lost (a pause past its life, a failover), the
        // run moves on, and another job posts the newer state and links it.
        await h.redis.rename(`${pollKey}:aside`, pollKey);
        await h.redis.del(lockKey);
        second = publisherOn(port, 30_000)(job());
        await second;
        return port.upsertProgress(view, existing);
      },
    };
    await publisherOn(stalled, 30_000)(job());
    await second;
    expect(log.posts.map((v) => v.summary)).toEqual([
      'Done: the statement is below.',
      'Working on it: 2 of 3 steps done.',
    ]);
    // The newer message stays linked and shows the latest state; the stale one is taken down.
    const linked = await h.runtime.store.messages.slot(SCOPE, roundId, 'progress:1');
    expect(linked?.messageId).toBe('p1');
    expect(log.shown?.get('p1')?.summary).toBe('Done: the statement is below.');
    expect(log.removed).toEqual(['p2']);
    expect(await h.runtime.store.messages.lookup(SCOPE, 'C1', 'p2')).toBeNull();
  });
});

describe('a results or critique job delivered again', () => {
  it('posts nothing more once its message is posted and linked (a crash before the job completed)', async () => {
    const h = await startHarness();
    try {
      const { round, thread } = await startRound(h);
      await postOpinions(h, thread.messageId);
      const target = { scope: SCOPE, channelId: 'C1', roundId: round.id };
      await h.runtime.service.close(target, MODERATOR);
      await h.platform.waitFor('statement', round.id);
      await h.runtime.service.critique(target, MODERATOR);
      await h.platform.waitFor('critique-invite', round.id);
      await h.runtime.service.finish(target, MODERATOR);
      await h.platform.waitFor('results', round.id);
      const posted = { invites: 0, results: 0 };
      const tries: (number | null)[] = [];
      const started = Date.now();
      const port: PlatformPort = {
        ...slowPort({ posts: [], edits: [] }),
        postCritiqueInvite: async () => {
          posted.invites++;
          return { channelId: 'C1', messageId: 'again', threadId: null };
        },
        postResults: async (_view, earlierTry) => {
          posted.results++;
          tries.push(earlierTry ?? null);
          return { channelId: 'C1', messageId: 'again', threadId: null };
        },
      };
      const publish = createPublisher({
        store: h.runtime.store,
        service: h.runtime.service,
        platforms: { console: port },
        log: h.log,
      });
      const job = { scope: SCOPE, roundId: round.id, version: 1, text: null };
      // The question too: posted and its thread attached, a re-delivered job posts nothing.
      let questions = 0;
      const questionPort: PlatformPort = {
        ...port,
        postQuestion: async () => {
          questions++;
          return { channelId: 'C1', messageId: 'again', threadId: 'again' };
        },
      };
      await createPublisher({
        store: h.runtime.store,
        service: h.runtime.service,
        platforms: { console: questionPort },
        log: h.log,
      })({ ...job, version: 0, kind: 'question' });
      expect(questions).toBe(0);
      await publish({ ...job, kind: 'critique-invite' });
      await publish({ ...job, kind: 'results' });
      expect(posted).toEqual({ invites: 0, results: 0 });
      // Not linked (say, Redis refused the link): the retry posts it, as it must.
      await h.redis.hdel(`${h.prefix}:console.W1:round:${round.id}:messages`, 'results');
      await publish({ ...job, kind: 'results' });
      expect(posted).toEqual({ invites: 0, results: 1 });
      // It is told that an earlier try began before this test's, so it may look for it.
      expect(tries).toHaveLength(1);
      expect(tries[0]).toBeLessThanOrEqual(started);
    } finally {
      await h.stop();
    }
  });
});

describe('the progress message of a run that is cancelled', () => {
  it('ends on "Stopped: the round was cancelled." instead of working on for good', async () => {
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const inner = new ExtractiveGenerator();
    const generator: Generator = {
      name: inner.name,
      generate: async (input, signal) => {
        await held;
        return inner.generate(input, signal);
      },
    };
    const h = await startHarness({ generator });
    try {
      const { round, thread } = await startRound(h);
      await postOpinions(h, thread.messageId);
      const target = { scope: SCOPE, channelId: 'C1' };
      await h.runtime.service.close(target, MODERATOR);
      const progress = () => h.output.filter((line) => /^ {3}(⏳|✅|⚠️) /.test(line));
      await until(async () => progress().some((l) => l.includes('Working on it')));
      await h.runtime.service.cancel({ ...target, roundId: round.id }, MODERATOR);
      const idle = async () => {
        const c = await h.runtime.queues
          .publishQueue(SCOPE)
          .getJobCounts('waiting', 'active', 'delayed');
        return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0;
      };
      await until(async () => (await idle()) && (progress().at(-1) ?? '').includes('Stopped'));
      expect(progress().at(-1)).toMatch(/^ {3}⚠️ Stopped: the round was cancelled\./);
      // The held generation ends later, and changes nothing.
      release();
      await new Promise((r) => setTimeout(r, 300));
      await until(idle);
      expect(progress().at(-1)).toContain('Stopped: the round was cancelled.');
      expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
    } finally {
      release();
      await h.stop();
    }
  });
});
