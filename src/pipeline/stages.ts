import { UnrecoverableError } from 'bullmq';
import type { ApprovalMatrix } from '../domain/candidate.js';
import { clip, LIMITS } from '../domain/limits.js';
import type { Log } from '../domain/log.js';
import { replaceMemberIds } from '../domain/member-ids.js';
import type { Opinion } from '../domain/opinion.js';
import { assertTransition, type RoundPhase } from '../domain/phase.js';
import type { Poll } from '../domain/rating.js';
import type { Round } from '../domain/round.js';
import { selectConsensus } from '../domain/selection.js';
import type {
  CallLedger,
  Generator,
  ParticipantView,
  RewardModel,
  Usage,
} from '../models/ports.js';
import type { Store } from '../store/store.js';
import { ledgerHolder, stageLedger } from './ledger.js';
import { type StageJob, statementOnce } from './payloads.js';
import type { PipelineQueues } from './queues.js';
import { ratingsHistory } from './ratings-history.js';

export interface StageDeps {
  store: Store;
  queues: PipelineQueues;
  generator: Generator;
  rewardModel: RewardModel;
  log: Log;
  now: () => number;
  /** Observes model use for metrics; optional so tests need not care. */
  metrics?: PipelineMetrics;
}

/** What the pipeline reports to the process's metrics (Prometheus in src/app). */
export interface PipelineMetrics {
  modelUsage(stage: 'generate' | 'score', usage: Usage): void;
  jobFinished(
    queue: string,
    outcome: 'completed' | 'failed' | 'rate_limited' | 'handed_back',
    seconds: number,
  ): void;
}

/** The phase a run of the pipeline works in: the first statement, or a revision. */
export function workingPhase(version: number): RoundPhase {
  return version === 1 ? 'generating' : 'revising';
}

/** A stage only acts for the run it belongs to; a cancelled or superseded round is left alone. */
function isCurrentRun(round: Round, job: StageJob): boolean {
  return round.phase === workingPhase(job.version) && round.attempt === job.attempt;
}

/** Every member's opinion, plus their critique of the previous statement in a revision. */
export async function participantViews(
  deps: Pick<StageDeps, 'store'>,
  job: Pick<StageJob, 'scope' | 'roundId' | 'version'>,
): Promise<ParticipantView[]> {
  const { store } = deps;
  const { scope, roundId, version } = job;
  const [opinions, critiques] = await Promise.all([
    store.contributions.list(scope, roundId, 'opinion', 0),
    version > 1
      ? store.contributions.list(scope, roundId, 'critique', version - 1)
      : Promise.resolve<Opinion[]>([]),
  ]);
  const critiqueOf = new Map(critiques.map((c) => [c.participantId, c.text]));
  const views: ParticipantView[] = opinions.map((o) => ({
    id: o.participantId,
    opinion: o.text,
    critique: critiqueOf.get(o.participantId) ?? null,
  }));
  // A member who only critiqued still counts: their approval matters to the revision.
  const withOpinion = new Set(opinions.map((o) => o.participantId));
  for (const c of critiques) {
    if (!withOpinion.has(c.participantId)) {
      views.push({ id: c.participantId, opinion: '', critique: c.text });
    }
  }
  return views;
}

/** Per-run seed: a retry or a revision samples afresh, a re-delivery repeats itself. */
function runSeed(round: Round, job: StageJob): number {
  return (round.seed + job.version * 7_919 + job.attempt * 104_729) >>> 0;
}

async function currentRound(deps: StageDeps, job: StageJob, stage: string): Promise<Round | null> {
  const round = await deps.store.rounds.require(job.scope, job.roundId);
  if (!isCurrentRun(round, job)) {
    deps.log.info(
      { roundId: job.roundId, scope: job.scope, stage, phase: round.phase, attempt: round.attempt },
      'stage skipped: the round has moved on',
    );
    return null;
  }
  return round;
}

async function publishProgress(deps: StageDeps, job: StageJob, step: string): Promise<void> {
  await deps.queues.enqueuePublish(
    { scope: job.scope, roundId: job.roundId, kind: 'progress', version: job.version, text: null },
    `progress-v${job.version}-a${job.attempt}-${step}`,
  );
}

/** `signal`: the worker is stopping and hands the job back (workers.ts); the model calls stop. */
export async function runGenerate(
  deps: StageDeps,
  job: StageJob,
  signal?: AbortSignal,
): Promise<void> {
  // The stage's reads are independent, so they share one round trip; a run that turns
  // out not to be current has only read.
  const [round, participants, previous, ledger] = await Promise.all([
    currentRound(deps, job, 'generate'),
    participantViews(deps, job),
    job.version > 1
      ? deps.store.polls
          .poll(job.scope, job.roundId, job.version - 1)
          .then((p) => p?.statement ?? null)
      : Promise.resolve(null),
    meteredLedger(deps, job, 'generate'),
  ]);
  if (!round) return;
  const result = await deps.generator.generate(
    {
      question: round.question,
      participants,
      k: round.settings.candidates,
      seed: runSeed(round, job),
      previous,
      ledger,
    },
    signal,
  );
  await ledger.recordUnmetered(result.usage);
  if (result.candidates.length === 0) {
    throw new UnrecoverableError('the generator returned no candidate statement');
  }
  const kept = await deps.store.polls.saveCandidates(job.scope, job.roundId, job.version, {
    candidates: result.candidates,
    generator: deps.generator.name,
    notes: result.notes,
    attempt: job.attempt,
  });
  if (!kept) logDuplicateRun(deps, job, 'generate');
  // Independent writes, so together: the next stage starts one Redis round trip sooner.
  await Promise.all([
    publishProgress(deps, job, 'generated'),
    deps.queues.enqueueStage('score', job),
  ]);
}

export async function runScore(
  deps: StageDeps,
  job: StageJob,
  signal?: AbortSignal,
): Promise<void> {
  const [round, set, participants, ledger] = await Promise.all([
    currentRound(deps, job, 'score'),
    deps.store.polls.candidates(job.scope, job.roundId, job.version),
    participantViews(deps, job),
    meteredLedger(deps, job, 'score'),
  ]);
  if (!round) return;
  if (!set) throw new Error(`no candidates stored for version ${job.version}`);
  const result = await deps.rewardModel.predict(
    {
      question: round.question,
      participants,
      candidates: set.candidates,
      seed: runSeed(round, job),
      ledger,
      history: ratingsHistory(deps.store, job.scope),
    },
    signal,
  );
  await ledger.recordUnmetered(result.usage);
  requireMajority(result.matrix);
  const kept = await deps.store.polls.saveScores(job.scope, job.roundId, job.version, {
    matrix: result.matrix,
    model: result.model,
    attempt: job.attempt,
  });
  if (!kept) logDuplicateRun(deps, job, 'score');
  await Promise.all([
    publishProgress(deps, job, 'scored'),
    deps.queues.enqueueStage('select', job),
  ]);
}

/**
 * Another run of the same job (BullMQ re-ran it when this one's lock lapsed) stored its
 * output first, and that is the one kept: the next stage may have read it already. The
 * next stage is still queued (its job id makes that harmless), in case the other run died.
 */
function logDuplicateRun(deps: StageDeps, job: StageJob, stage: string): void {
  deps.log.warn(
    { roundId: job.roundId, scope: job.scope, stage, version: job.version, attempt: job.attempt },
    'stage output kept from an earlier run of the same job',
  );
}

/**
 * The stage's ledger (see ledger.ts), plus a fallback for models that ignore it: what
 * they report in their result is recorded when nothing went through the ledger.
 */
async function meteredLedger(deps: StageDeps, job: StageJob, stage: 'generate' | 'score') {
  const inner = stageLedger(deps.store, job, stage, `${deps.queues.options.prefix}:model-requests`);
  // Reservations a crashed earlier run of this stage left behind are no longer in use.
  await deps.store.usage.releaseReservations(job.scope, job.roundId, ledgerHolder(job, stage));
  let settled = 0;
  const ledger: CallLedger & { recordUnmetered(usage: Usage): Promise<void> } = {
    ...inner,
    settle: (usage, reserved) => {
      settled++;
      deps.metrics?.modelUsage(stage, usage);
      return inner.settle(usage, reserved);
    },
    async recordUnmetered(usage) {
      if (settled === 0 && usage.calls > 0) {
        deps.metrics?.modelUsage(stage, usage);
        await deps.store.usage.add(job.scope, job.roundId, stage, usage);
      }
    },
  };
  return ledger;
}

/**
 * A member the reward model could not predict (their judge call failed after its
 * retries) is left out of every candidate's welfare; choosing for the group goes on
 * only while those predicted are a majority.
 */
function requireMajority(matrix: ApprovalMatrix): void {
  const total = matrix.participants.length;
  const predicted = matrix.participants.filter((_, p) =>
    matrix.approvals.some((row) => row[p] !== null && row[p] !== undefined),
  ).length;
  if (total > 0 && predicted * 2 <= total) {
    throw new Error(
      `approval could be predicted for only ${predicted} of ${total} members; choosing a statement for the group needs a majority`,
    );
  }
}

export async function runSelect(deps: StageDeps, job: StageJob): Promise<void> {
  const seen = await deps.store.rounds.require(job.scope, job.roundId);
  if (seen.phase === 'polling' && seen.version === job.version && seen.attempt === job.attempt) {
    // This run's earlier attempt opened the poll and then died (a worker killed, a Redis
    // error) before the statement was queued: without this the poll would stay unposted.
    await announcePoll(deps, job);
    return;
  }
  const [round, set, scores] = await Promise.all([
    currentRound(deps, job, 'select'),
    deps.store.polls.candidates(job.scope, job.roundId, job.version),
    deps.store.polls.scores(job.scope, job.roundId, job.version),
  ]);
  if (!round) return;
  if (!set || !scores) throw new Error(`candidates or scores missing for version ${job.version}`);
  const selectionSeed = runSeed(round, job);
  const selection = selectConsensus(scores.matrix, round.settings.welfare, selectionSeed);
  const best = selection.ranked[0];
  const winner = set.candidates.find((c) => c.id === best?.candidateId);
  if (!best || !winner) throw new UnrecoverableError('selection returned no winner');
  const row = scores.matrix.approvals[scores.matrix.candidates.indexOf(winner.id)] ?? [];
  const predicted: Record<string, number | null> = {};
  scores.matrix.participants.forEach((p, i) => {
    predicted[p] = row[i] ?? null;
  });
  const poll: Poll = {
    roundId: round.id,
    version: job.version,
    candidateId: winner.id,
    statement: winner.text,
    scale: round.settings.scale,
    openedAt: deps.now(),
    closedAt: null,
    predicted,
    welfare: best.welfare,
    method: selection.description,
    selectionSeed,
  };
  await deps.store.polls.savePoll(job.scope, poll);
  const moved = await deps.store.rounds.update(job.scope, job.roundId, (r) => {
    if (!isCurrentRun(r, job)) return r;
    assertTransition(r.phase, 'polling');
    return {
      ...r,
      phase: 'polling',
      version: job.version,
      deadline: null,
      failureReason: null,
      followUpPending: false,
    };
  });
  if (moved.phase !== 'polling' || moved.version !== job.version) return;
  await announcePoll(deps, job);
}

/** Queues the poll's statement and the last progress edit; both are posted once. */
async function announcePoll(deps: StageDeps, job: StageJob): Promise<void> {
  await Promise.all([
    publishProgress(deps, job, 'selected'),
    deps.queues.enqueuePublish(
      {
        scope: job.scope,
        roundId: job.roundId,
        kind: 'statement',
        version: job.version,
        text: null,
      },
      statementOnce(job.version),
    ),
  ]);
}

/**
 * After the last attempt of a stage fails, the round is marked failed with a reason a
 * moderator can act on, and the channel is told; `close` retries it.
 */
export async function failRun(deps: StageDeps, job: StageJob, error: string): Promise<void> {
  const round = await deps.store.rounds.get(job.scope, job.roundId);
  if (!round || !isCurrentRun(round, job)) return;
  // The reason is shown in the channel; an error's text can hold a member id (e.g. a
  // model's complaint about one member), which an anonymous round must not show. Cut
  // only after the ids are replaced: a cut through an id would leave most of it.
  const shown = round.settings.anonymous ? await withoutMemberIds(deps, round, error) : error;
  // A server's error page can be long; the reason is stored and shown in the channel.
  const reason = clip(shown, LIMITS.reasonMaxChars);
  let failedNow = false;
  await deps.store.rounds.update(job.scope, job.roundId, (r) => {
    // Set on each try: a compare-and-set retry re-reads the round and decides again.
    failedNow = isCurrentRun(r, job);
    if (!failedNow) return r;
    assertTransition(r.phase, 'failed');
    return { ...r, phase: 'failed', failureReason: reason, followUpPending: false };
  });
  // Moved on meanwhile (cancelled, or closed again): this run's failure is no news there.
  if (!failedNow) return;
  await deps.queues.enqueuePublish(
    {
      scope: job.scope,
      roundId: job.roundId,
      kind: 'notice',
      version: job.version,
      text: `The statement could not be produced: ${reason}. A moderator can retry with \`close\`.`,
    },
    `failed-v${job.version}-a${job.attempt}`,
  );
}

/** `text` with every id of the round's members (starter included) replaced by "a member". */
async function withoutMemberIds(deps: StageDeps, round: Round, text: string): Promise<string> {
  const lists = await Promise.all([
    deps.store.contributions.list(round.scope, round.id, 'opinion', 0),
    ...Array.from({ length: round.version }, (_, v) =>
      deps.store.contributions.list(round.scope, round.id, 'critique', v + 1),
    ),
  ]);
  const ids = new Set([round.createdBy, ...lists.flat().map((o) => o.participantId)]);
  return replaceMemberIds(text, [...ids]);
}
