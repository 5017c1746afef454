/**
 * One scoring of a round's candidates in a workspace with a long ratings history, in a
 * process of its own so that its peak RSS is this work alone: seeds a synthetic
 * workspace matrix into Redis, then blends a reward model with the learned model as
 * the score stage does (the store's matrix through the RatingsHistory port, the fit in
 * a worker thread), with `--window` as LEARNED_MAX_STATEMENTS. Prints one JSON line; `npm run bench` runs it.
 *
 *   npm run build && node --import tsx bench/learned-fit.ts --redis URL --statements 4000 --window 1000
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { connectRedis } from '../src/app/redis.js';
import { createRng } from '../src/domain/random.js';
import type { Scope } from '../src/domain/scope.js';
import { BlendedRewardModel } from '../src/models/blended-reward-model.js';
import { LexicalRewardModel } from '../src/models/offline/lexical-reward-model.js';
import { ratingsHistory } from '../src/pipeline/ratings-history.js';
import { createStore } from '../src/store/store.js';

const { values } = parseArgs({
  options: {
    redis: { type: 'string' },
    statements: { type: 'string', default: '4000' },
    members: { type: 'string', default: '1500' },
    raters: { type: 'string', default: '15' },
    window: { type: 'string', default: '1000' },
  },
});
if (!values.redis) throw new Error('--redis URL is required');
const STATEMENTS = Number(values.statements);
const MEMBERS = Number(values.members);
const RATERS = Number(values.raters);
const WINDOW = Number(values.window);

const ROOT = resolve(import.meta.dirname, '..');
// The thread from dist/ (built by npm run bench), as the image runs it: from the sources
// each thread would load tsx's compiler too.
const { learnInThread } = (await import(
  pathToFileURL(resolve(ROOT, 'dist/app/learn-thread.js')).href
)) as typeof import('../src/app/learn-thread.js');
const PREFIX = `bench-learned-${process.pid}`;
const scope: Scope = { platform: 'console', workspaceId: 'learned' };

/** Words of real Polis statements, so that texts overlap as real ones do (sparsely). */
function corpus(): string[] {
  const csv = readFileSync(
    resolve(ROOT, 'test/fixtures/polis/london.youth.policing/comments.csv'),
    'utf8',
  );
  return csv
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((w) => w.length > 2);
}

const redis = await connectRedis(values.redis);
const store = createStore(redis, PREFIX);
const rng = createRng('learned-fit');
const words = corpus();
const text = () =>
  Array.from({ length: 14 }, () => words[Math.floor(rng.next() * words.length)]).join(' ');
// Two camps that disagree on half the statements, with some noise.
const camp = (member: number) => member % 2;
for (let s = 0; s < STATEMENTS; s++) {
  const raters = new Set<number>();
  while (raters.size < Math.min(RATERS, MEMBERS)) raters.add(Math.floor(rng.next() * MEMBERS));
  const divisive = s % 2 === 0;
  await store.ratingsMatrix.recordPoll(scope, {
    roundId: `r${s}`,
    version: 1,
    question: 'A question',
    statement: text(),
    openedAt: s,
    ratings: [...raters].map((m) => {
      const agree = (divisive ? camp(m) === 0 : true) !== rng.next() < 0.15;
      return {
        participantId: `m${m}`,
        optionKey: agree ? 'agree' : 'disagree',
        approval: agree ? 1 : 0,
        at: s,
      };
    }),
    opinions: [...raters].slice(0, 3).map((m) => ({ participantId: `m${m}`, text: text() })),
  });
}

const participants = Array.from({ length: 20 }, (_, i) => ({
  id: `m${i}`,
  opinion: text(),
  critique: null,
}));
const candidates = Array.from({ length: 8 }, (_, i) => ({
  id: `c${i}`,
  text: text(),
  source: 'llm' as const,
  explanation: null,
}));
const model = new BlendedRewardModel(new LexicalRewardModel(), {
  minRatings: 30,
  maxStatements: WINDOW,
  learn: learnInThread,
});
const rssBefore = process.memoryUsage().rss;
const started = performance.now();
const result = await model.predict({
  question: 'A question',
  participants,
  candidates,
  seed: 1,
  history: ratingsHistory(store, scope),
});
const ms = performance.now() - started;
console.log(
  JSON.stringify({
    statements: STATEMENTS,
    ratings: STATEMENTS * Math.min(RATERS, MEMBERS),
    window: WINDOW,
    model: result.model,
    ms,
    rssBeforeMiB: rssBefore / 2 ** 20,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }),
);
const keys = await redis.keys(`${PREFIX}:*`);
if (keys.length > 0) await redis.del(...keys);
redis.disconnect();
