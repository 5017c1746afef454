import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { learnInThread, threadLearner } from '../../src/app/learn-thread.js';
import { learnsFromRatings } from '../../src/app/runtime.js';
import { silentLog } from '../../src/domain/log.js';
import { createRng } from '../../src/domain/random.js';
import type { Learner } from '../../src/models/learned/learn.js';
import { type LearnRequest, learnInProcess } from '../../src/models/learned/learn.js';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import type { PredictInput } from '../../src/models/ports.js';
import { RecordingLog } from '../support/harness.js';

/**
 * A workspace of two camps: `statements` rated statements (each by a dozen of `members`
 * members, camp 0 approving the even ones, camp 1 the odd ones, one rating in ten
 * flipped) and two new candidates, one in each camp's words.
 */
function workspace(statements: number, members: number): LearnRequest {
  const rng = createRng('learn-thread');
  const words = ['cycling', 'lanes', 'parking', 'cars', 'buses', 'trains', 'fees', 'streets'];
  const text = (s: number) =>
    `${s % 2 === 0 ? 'cycling lanes' : 'car parking'} ${words[s % words.length]} ${words[(s * 3) % words.length]} ${s}`;
  const ratings: LearnRequest['input']['ratings'] = [];
  for (let s = 0; s < statements; s++) {
    const raters = new Set<number>();
    while (raters.size < Math.min(12, members)) raters.add(Math.floor(rng.next() * members));
    for (const m of raters) {
      const agrees = (m % 2 === s % 2) !== rng.next() < 0.1;
      ratings.push({ member: `m${m}`, statement: `s${s}`, approval: agrees ? 1 : 0 });
    }
  }
  const memberIds = Array.from({ length: members }, (_, m) => `m${m}`);
  return {
    input: {
      members: memberIds.map((id) => ({ id, text: null })),
      statements: [
        ...Array.from({ length: statements }, (_, s) => ({ id: `s${s}`, text: text(s) })),
        { id: 'new-cycling', text: 'More cycling lanes on the high street' },
        { id: 'new-parking', text: 'Cheaper car parking by the market' },
      ],
      ratings,
    },
    members: memberIds.slice(0, 10),
    statements: ['new-cycling', 'new-parking', 's0'],
  };
}

/** Counts the timer ticks the event loop manages while `work` runs. */
async function ticksDuring(work: () => Promise<unknown>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => {
    ticks += 1;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

/** A round of the workspace's first ten members scoring two candidates, with its history. */
function scoring(request: LearnRequest): PredictInput {
  return {
    question: 'Cycling or parking?',
    participants: request.members.map((id) => ({
      id,
      opinion: 'More cycling lanes',
      critique: null,
    })),
    candidates: ['More cycling lanes', 'Cheaper parking'].map((text, i) => ({
      id: `c${i}`,
      text,
      source: 'llm' as const,
      explanation: null,
    })),
    seed: 1,
    history: {
      count: async () => request.input.ratings.length,
      load: async () => request.input,
    },
  };
}

describe('the learned model fitted in a worker thread', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('gives exactly what the same fit gives in this thread', async () => {
    const request = workspace(40, 30);
    const [threaded, here] = await Promise.all([learnInThread(request), learnInProcess(request)]);
    expect(threaded).toEqual(here);
    expect(threaded.approvals).toHaveLength(3);
    expect(threaded.groups).toHaveLength(10);
    // Not a constant: the camps are told apart on a rated statement.
    const s0 = threaded.approvals[2] ?? [];
    expect(Math.min(...s0)).toBeLessThan(0.5);
    expect(Math.max(...s0)).toBeGreaterThan(0.5);
  });

  it('leaves the event loop free while it fits, where the same fit in this thread blocks it', async () => {
    const request = workspace(600, 400);
    expect(await ticksDuring(() => learnInProcess(request))).toBe(0);
    expect(await ticksDuring(() => learnInThread(request))).toBeGreaterThan(5);
  });

  it("is how the service's reward model fits: scoring leaves the event loop free", async () => {
    const request = workspace(600, 400);
    const model = learnsFromRatings(
      new LexicalRewardModel(),
      { LEARNED_MIN_RATINGS: 30, LEARNED_MAX_STATEMENTS: 1000, LEARNED_FIT_TIMEOUT_MS: 0 },
      silentLog,
    );
    let model_: string | undefined;
    const ticks = await ticksDuring(async () => {
      model_ = (await model.predict(scoring(request))).model;
    });
    expect(model_).toMatch(/blended with learned \(\d+ ratings\)/);
    expect(ticks).toBeGreaterThan(5);
  });

  it('ends a fit in progress on shutdown; the round is scored by the base model alone', async () => {
    const stop = new AbortController();
    const log = new RecordingLog();
    const base = new LexicalRewardModel();
    const model = learnsFromRatings(
      base,
      { LEARNED_MIN_RATINGS: 30, LEARNED_MAX_STATEMENTS: 1000, LEARNED_FIT_TIMEOUT_MS: 0 },
      log,
      stop.signal,
    );
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    // Late enough for the thread to exist (the base model takes milliseconds), well
    // before a fit of this size ends (about a second).
    setTimeout(() => stop.abort(new Error('shutting down')), 300);
    const result = await model.predict(scoring(workspace(600, 400)));
    expect(result.model).toBe(base.name);
    expect(terminate).toHaveBeenCalledTimes(1);
    expect(log.lines.find((l) => l.level === 'warn')?.message).toMatch(/base model alone/);
  });

  it('ends a fit that outlasts LEARNED_FIT_TIMEOUT_MS (its wait for the thread included); the round keeps the base scores', async () => {
    const log = new RecordingLog();
    const base = new LexicalRewardModel();
    const model = learnsFromRatings(
      base,
      { LEARNED_MIN_RATINGS: 30, LEARNED_MAX_STATEMENTS: 1000, LEARNED_FIT_TIMEOUT_MS: 200 },
      log,
    );
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    // A fit of this size takes about a second: the limit ends it in its thread.
    const result = await model.predict(scoring(workspace(600, 400)));
    expect(result.model).toBe(base.name);
    expect(terminate).toHaveBeenCalledTimes(1);
    const warning = log.lines.find((l) => l.level === 'warn');
    expect(warning?.message).toMatch(/base model alone/);
    expect(String((warning?.fields as { err?: unknown } | undefined)?.err)).toMatch(
      /longer than LEARNED_FIT_TIMEOUT_MS \(200 ms\)/,
    );

    // A fit still waiting for the one thread when its time is up leaves the queue, and
    // the slot comes back to later fits.
    let releaseFirst = () => {};
    const held: Learner = (request, signal) =>
      new Promise((resolve, reject) => {
        releaseFirst = () => resolve({ approvals: [], groups: [] });
        // As learnInThread does: a signal that ended while the fit waited ends it at once.
        if (signal?.aborted) reject(signal.reason);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        if (request.members[0] === 'quick') resolve({ approvals: [], groups: [] });
      });
    const learn = threadLearner({ threads: 1, timeoutMs: 100, learn: held });
    const request = (id: string) => ({ ...workspace(1, 1), members: [id] });
    // Both are watched from the start: each rejects at its own time.
    const [first, waiting] = await Promise.allSettled([
      learn(request('first')),
      learn(request('waiting')),
    ]);
    for (const fit of [first, waiting]) {
      expect(fit.status).toBe('rejected');
      expect(String(fit.status === 'rejected' && fit.reason)).toMatch(
        /longer than LEARNED_FIT_TIMEOUT_MS \(100 ms\)/,
      );
    }
    releaseFirst();
    await expect(learn(request('quick'))).resolves.toEqual({ approvals: [], groups: [] });
  });

  it('stops the thread when the scoring is aborted', async () => {
    const controller = new AbortController();
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    const fit = learnInThread(workspace(600, 400), controller.signal);
    setTimeout(() => controller.abort(new Error('round cancelled')), 20);
    await expect(fit).rejects.toThrow('round cancelled');
    expect(terminate).toHaveBeenCalledTimes(1);
    await expect(learnInThread(workspace(5, 5), controller.signal)).rejects.toThrow(
      'round cancelled',
    );
  });

  it("rejects with the thread's error when the fit cannot run", async () => {
    const request = workspace(5, 5);
    const bad = { ...request, members: ['nobody'] };
    await expect(learnInThread(bad)).rejects.toThrow('Unknown member id "nobody"');
    // A validation error's message survives the crossing too (a ZodError's is computed).
    const invalid = workspace(5, 5);
    const rating = invalid.input.ratings[0];
    if (rating) rating.approval = 2;
    await expect(learnInThread(invalid)).rejects.toThrow(/fit failed: .*approval/s);
  });

  it('runs one fit at a time per process when limited to one thread; an aborted wait leaves the queue', async () => {
    let active = 0;
    let most = 0;
    const finished: string[] = [];
    const slow: Learner = async (request) => {
      active += 1;
      most = Math.max(most, active);
      await new Promise((r) => setTimeout(r, 20));
      active -= 1;
      finished.push(request.members[0] ?? '');
      return { approvals: [], groups: [] };
    };
    const learn = threadLearner({ threads: 1, learn: slow });
    const request = (id: string) => ({ ...workspace(1, 1), members: [id] });
    const controller = new AbortController();
    const fits = [
      learn(request('first')),
      learn(request('aborted'), controller.signal),
      learn(request('second')),
      learn(request('third')),
    ];
    controller.abort(new Error('cancelled while waiting'));
    const settled = await Promise.allSettled(fits);
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(most).toBe(1);
    expect(finished).toEqual(['first', 'second', 'third']);
    // The slot came back: a later fit starts at once.
    await expect(learn(request('later'))).resolves.toEqual({ approvals: [], groups: [] });
  });
});
