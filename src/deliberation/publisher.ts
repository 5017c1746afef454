import { errorMessage } from '../domain/errors.js';
import type { Log } from '../domain/log.js';
import type { MessageRef, Round } from '../domain/round.js';
import { type Platform, placeName } from '../domain/scope.js';
import type { PublishJob } from '../pipeline/payloads.js';
import type { ScoreOutline } from '../store/polls.js';
import type { Store } from '../store/store.js';
import { type PlatformPort, ThreadGoneError } from './ports.js';
import { tellRoundGone } from './round-gone.js';
import type { DeliberationService } from './service.js';
import { headerOf, type ProgressStep, type ProgressView, quoted } from './views.js';

export interface PublisherDeps {
  store: Store;
  service: DeliberationService;
  platforms: Partial<Record<Platform, PlatformPort>>;
  log: Log;
}

/**
 * Turns publish jobs into platform messages. Views are built from the store when the
 * job runs, so a late or repeated progress edit shows the current state, never an old one.
 */
export function createPublisher(deps: PublisherDeps): (job: PublishJob) => Promise<void> {
  const publish = publishing(deps);
  return async (job) => {
    const port = deps.platforms[job.scope.platform];
    if (!port) throw new Error(`no ${job.scope.platform} connection in this process`);
    const round = await deps.store.rounds.require(job.scope, job.roundId);
    try {
      await publish(job, port, round);
    } catch (error) {
      if (!(error instanceof ThreadGoneError)) throw error;
      await threadGone(deps, port, round, job, error);
    }
  };
}

/**
 * The round's thread was deleted: its replies are gone and nothing more can be posted
 * there, so the round is cancelled (a retry of this job, or any later one, would fail
 * the same way, and the round would wait for good) and the channel is told once; when the
 * channel itself is out of reach, the member who started the round is told instead.
 */
async function threadGone(
  deps: PublisherDeps,
  port: PlatformPort,
  round: Round,
  job: PublishJob,
  gone: ThreadGoneError,
): Promise<void> {
  const ids = { roundId: round.id, scope: round.scope, kind: job.kind, thread: gone.how };
  const cancelled = await deps.service.cancelForGoneThread(round.scope, round.id);
  if (!cancelled) {
    deps.log.info(ids, 'the round’s thread is gone; the round was over already');
    return;
  }
  deps.log.warn(ids, 'the round’s thread is gone; round cancelled');
  await tellRoundGone(port, deps.log, cancelled, gone.how);
}

/**
 * What a member waits for in the thread, told about when it cannot be posted, with what a
 * moderator can do once the permission is back: nothing is lost by waiting for it.
 */
const AWAITED: Partial<Record<PublishJob['kind'], { what: string; remedy: string }>> = {
  question: { what: 'question', remedy: 'a moderator can cancel the round and start it again' },
  statement: { what: 'statement', remedy: 'a moderator can post it with `/consensus close`' },
  'critique-invite': {
    what: 'call for critiques',
    remedy: 'replies in the thread count as critiques, and `/consensus close` writes the revision',
  },
  results: { what: 'results', remedy: '`/consensus results` shows them' },
};

/**
 * A publish job that failed its last attempt: the platform kept refusing the post (on
 * Discord, a permission taken away in the channel or its thread, or the bot removed from
 * the server). Nothing posts it later, so the round would wait on a message nobody sees:
 * the channel is told, once per message, what did not appear. Progress edits, notices and
 * reminders are not worth a word of their own.
 */
export function publishGaveUp(deps: PublisherDeps) {
  return async (job: PublishJob, error: Error): Promise<void> => {
    const awaited = AWAITED[job.kind];
    const port = deps.platforms[job.scope.platform];
    if (!awaited || !port) return;
    const round = await deps.store.rounds.get(job.scope, job.roundId);
    if (!round) return;
    const ids = { roundId: round.id, scope: round.scope, kind: job.kind, err: error.message };
    deps.log.error(ids, 'gave up posting a round’s message');
    const text = `The ${awaited.what} of round \`${round.id}\` ${quoted(round.question)} could not be posted after several tries: the bot may have lost a permission it needs in this channel or its thread. Once a ${placeName(round.scope)} admin has restored it, ${awaited.remedy}.`;
    try {
      await port.postNotice({ ...headerOf(round), thread: null, text });
    } catch (noticeError) {
      deps.log.warn(
        { ...ids, noticeErr: errorMessage(noticeError) },
        'could not say in the channel that a round’s message was not posted',
      );
      // The channel refuses the bot altogether: the member who started the round is the
      // one who can restore the permission or start over elsewhere.
      await port.directMessage(round.createdBy, text).catch((dmError: unknown) => {
        deps.log.warn(
          { ...ids, dmErr: errorMessage(dmError) },
          'could not tell the member who started the round either',
        );
      });
    }
  };
}

function publishing(deps: PublisherDeps) {
  return async (job: PublishJob, port: PlatformPort, round: Round): Promise<void> => {
    const header = headerOf(round);
    const { messages, polls } = deps.store;
    switch (job.kind) {
      case 'question': {
        if (round.questionRef) return; // posted already (job re-delivered after a crash)
        const ref = await port.postQuestion(
          {
            ...header,
            createdBy: round.settings.anonymous ? null : round.createdBy,
            deadline: round.deadline,
            candidates: round.settings.candidates,
            welfare: round.settings.welfare,
            scale: round.settings.scale,
          },
          // Only the link, not questionRef: a round with a questionRef counts as posted,
          // and one whose thread then failed must be posted again by the retry.
          (posted) =>
            messages.link(
              round.scope,
              posted,
              { roundId: round.id, kind: 'question', version: 0 },
              'question',
            ),
        );
        await deps.service.attachQuestion(round.scope, round.id, ref);
        return;
      }
      case 'progress': {
        await publishProgress(deps, port, round, job.version);
        return;
      }
      case 'statement': {
        const slot = `statement:${job.version}`;
        const posted = await messages.slot(round.scope, round.id, slot);
        // Cancelled between the select stage opening the poll and this job: posted now, the
        // statement would follow "cancelled" with a poll that refuses every rating.
        if (!posted && round.phase === 'cancelled') return;
        if (!posted) {
          const view = await deps.service.statementView(round, job.version);
          const earlier = await messages.markPosting(round.scope, round.id, slot, Date.now());
          await port.postStatement(
            view,
            (ref) =>
              messages.link(
                round.scope,
                ref,
                { roundId: round.id, kind: 'statement', version: job.version },
                slot,
              ),
            earlier,
          );
        }
        // Also when posted already: a job retried after a crash still sets the deadline.
        await deps.service.openPoll(round.scope, round.id, job.version);
        return;
      }
      case 'critique-invite': {
        const slot = `critique:${job.version}`;
        // Posted and linked already: the job came back after a crash before it completed.
        if (await messages.slot(round.scope, round.id, slot)) return;
        // A finish (or a cancel, or the close that starts the revision) moved the round on
        // before this was posted: an invitation now would ask for replies nobody counts.
        if (round.phase !== 'critiquing' || round.version !== job.version) return;
        const poll = await polls.poll(round.scope, round.id, job.version);
        const earlier = await messages.markPosting(round.scope, round.id, slot, Date.now());
        const ref = await port.postCritiqueInvite(
          {
            ...header,
            version: job.version,
            statement: poll?.statement ?? '',
            deadline: round.deadline,
          },
          earlier,
        );
        await messages.link(
          round.scope,
          ref,
          { roundId: round.id, kind: 'critique-invite', version: job.version },
          slot,
        );
        return;
      }
      case 'results': {
        // Posted and linked already: the job came back after a crash before it completed.
        if (await messages.slot(round.scope, round.id, 'results')) return;
        const view = await deps.service.results(round);
        const earlier = await messages.markPosting(round.scope, round.id, 'results', Date.now());
        const ref = await port.postResults(view, earlier);
        await messages.link(
          round.scope,
          ref,
          { roundId: round.id, kind: 'results', version: job.version },
          'results',
        );
        return;
      }
      case 'notice': {
        await port.postNotice({ ...header, text: job.text ?? '' });
        return;
      }
      case 'reminder': {
        const view = await deps.service.reminderView(round, job.version);
        if (view) await port.postNotice(view);
        return;
      }
    }
  };
}

/** Passes of one progress job whose slot lock ran out under it, before the job fails. */
const PROGRESS_PASSES = 3;

/**
 * Posts the progress message of version `v` once, then edits it. Each pass holds the
 * slot's lock and reads the view under it: of two edits, the later holder shows the newer
 * state, whatever order the jobs started in. A pass whose lock ran out (a pause longer
 * than the lock's life, a Redis failover) may have raced another holder, so it runs again
 * under the lock taken afresh: a message it posted but could not link is edited to the
 * newest view and linked, or, when another was linked meanwhile, taken down.
 */
async function publishProgress(
  deps: PublisherDeps,
  port: PlatformPort,
  round: Round,
  v: number,
): Promise<void> {
  const { messages } = deps.store;
  const slot = `progress:${v}`;
  const role = { roundId: round.id, kind: 'progress' as const, version: v };
  let unlinked: MessageRef | null = null;
  for (let pass = 1; pass <= PROGRESS_PASSES; pass++) {
    const settled = await messages.withSlotLock(round.scope, round.id, slot, async (lock) => {
      const current = await deps.store.rounds.require(round.scope, round.id);
      const view = await progressView(deps, current, v);
      const existing = await messages.slot(round.scope, round.id, slot);
      if (existing) {
        await port.upsertProgress(view, existing);
        if (unlinked) await removeExtraProgress(deps, port, round, unlinked);
        unlinked = null;
        // An edit sent after the lock ran out may have landed after a newer holder's.
        return lock.held();
      }
      const posted = await port.upsertProgress(view, unlinked);
      unlinked = (await lock.link(posted, role)) ? null : posted;
      return unlinked === null;
    });
    if (settled) return;
  }
  if (unlinked) await removeExtraProgress(deps, port, round, unlinked);
  throw new Error(`lost the lock of the ${slot} message ${PROGRESS_PASSES} times`);
}

/** Best effort: a second progress message left showing misleads, but blocks nothing. */
async function removeExtraProgress(
  deps: PublisherDeps,
  port: PlatformPort,
  round: Round,
  ref: MessageRef,
): Promise<void> {
  try {
    await port.removeProgress(ref);
  } catch (error) {
    deps.log.warn(
      { roundId: round.id, scope: round.scope, err: errorMessage(error) },
      'could not take down a second progress message',
    );
  }
}

/** "approval predicted for 4 of 6 members (llm-judge); 2 not predicted" */
function predictedLabel(matrix: ScoreOutline['matrix'], model: string): string {
  const total = matrix.participants.length;
  let predicted = 0;
  for (let i = 0; i < total; i++) {
    if (matrix.approvals.some((row) => typeof row[i] === 'number')) predicted++;
  }
  if (predicted === total) return `approval predicted for ${total} members (${model})`;
  return `approval predicted for ${predicted} of ${total} members (${model}); ${total - predicted} not predicted`;
}

/** The progress message's view: which stages of version `v` have finished. */
async function progressView(deps: PublisherDeps, round: Round, v: number): Promise<ProgressView> {
  const { polls, messages } = deps.store;
  const [set, scores, chosen, statement] = await Promise.all([
    polls.candidates(round.scope, round.id, v),
    polls.scoresOutline(round.scope, round.id, v),
    polls.hasPoll(round.scope, round.id, v),
    messages.slot(round.scope, round.id, `statement:${v}`),
  ]);
  const steps: ProgressStep[] = [
    {
      label: set
        ? `${set.candidates.length} candidate statements written`
        : 'writing candidate statements',
      done: set !== null,
    },
    {
      label: scores
        ? predictedLabel(scores.matrix, scores.model)
        : "predicting each member's approval",
      done: scores !== null,
    },
    { label: chosen ? 'statement chosen' : 'choosing the statement', done: chosen },
  ];
  const done = steps.filter((s) => s.done).length;
  const failed = round.phase === 'failed' && round.version < v;
  // A cancel can land after the select stage wrote the poll: every step is done, but no
  // statement will be posted (see 'statement'), so "the statement is below" would point
  // at nothing.
  const cancelled = round.phase === 'cancelled' && (done < steps.length || statement === null);
  const state = failed || cancelled ? 'stopped' : done === steps.length ? 'done' : 'working';
  const summary = failed
    ? `Stopped: ${round.failureReason ?? 'the run failed'}.`
    : cancelled
      ? 'Stopped: the round was cancelled.'
      : state === 'done'
        ? 'Done: the statement is below.'
        : `Working on it: ${done} of ${steps.length} steps done.`;
  return { ...headerOf(round), version: v, steps, state, summary };
}
