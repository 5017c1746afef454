/**
 * The application service every platform calls, and the one place the rules of a round
 * are enforced: who may start, close, critique, extend, finish or cancel it, in which
 * phase, and what each move schedules (pipeline runs, deadlines, messages to publish).
 * Thread events, read-side views and exports are built in ./ingest.ts, ./round-views.ts
 * and ./round-export.ts; the service resolves the round, checks the rules and hands over,
 * so platforms keep one object to call and this file keeps one job.
 */
import type { z } from 'zod';
import { DomainError, errorMessage } from '../domain/errors.js';
import { type CommandLimits, clipWords, DEFAULT_COMMAND_LIMITS, LIMITS } from '../domain/limits.js';
import type { Log } from '../domain/log.js';
import { assertTransition, describePhase, isTerminal, type RoundPhase } from '../domain/phase.js';
import type { Poll, Rating } from '../domain/rating.js';
import { approvalBelow, everyoneRated, pollResults } from '../domain/results.js';
import {
  DEFAULT_SETTINGS,
  type MessageRef,
  NewQuestionSchema,
  type Round,
  type RoundSettings,
  RoundSettingsSchema,
} from '../domain/round.js';
import { KeySafeIdSchema, type Scope } from '../domain/scope.js';
import { type DeadlineJob, statementOnce } from '../pipeline/payloads.js';
import type { PipelineQueues } from '../pipeline/queues.js';
import type { Store } from '../store/store.js';
import { type CommandRequest, checkCommandLimits } from './command-limits.js';
import type {
  OpenRoundState,
  PollReactions,
  RatingOutcome,
  ReactionEvent,
  ReplyEvent,
  ReplyOutcome,
} from './ingest.js';
import * as ingest from './ingest.js';
import { collectRoundExports } from './polis-export.js';
import type { Actor } from './ports.js';
import { ratingIdOf } from './pseudonym.js';
import { type RoundExport, roundExport } from './round-export.js';
import * as roundViews from './round-views.js';
import { checkStartLimits } from './start-limits.js';
import {
  deadlineMissedNotice,
  headerOf,
  type NoticeView,
  quoted,
  type ResultsView,
  type StatementView,
  type StatusView,
  statementDeletedNotice,
} from './views.js';

// Built in the modules above (or the domain) and exported here too, so callers import from one place.
export { isTerminal } from '../domain/phase.js';
export type { CommandRequest } from './command-limits.js';
export {
  type OpenRoundState,
  PollClosedError,
  type PollReactions,
  type RatingOutcome,
  type ReactionEvent,
  type ReplyEvent,
  type ReplyOutcome,
} from './ingest.js';
export type { RoundExport } from './round-export.js';
export { isSummaryNote } from './round-views.js';

export interface ServiceDeps {
  store: Store;
  queues: PipelineQueues;
  log: Log;
  now: () => number;
  newId: () => string;
  newSeed: () => number;
  /** Command and start rates, open-round caps; DEFAULT_COMMAND_LIMITS when not given. */
  limits?: CommandLimits;
}

export interface StartCommand {
  scope: Scope;
  channelId: string;
  actor: Actor;
  question: string;
  settings?: Partial<RoundSettings>;
}

/** How long a click on a just-posted statement waits for its link: 5 x 100 ms. */
const CLICK_LINK_RETRIES = 5;
const CLICK_LINK_RETRY_MS = 100;
/** A removal of the bot reported twice (Slack may send two events for one) is told once. */
const REMOVAL_TOLD_SECONDS = 10 * 60;
/**
 * A removal found at a start (the event was missed, or the bot was told before it went
 * down) is told again at most this often while it lasts: each deploy would repeat it.
 */
export const REMOVAL_REMINDER_SECONDS = 24 * 3600;

/** Which round a command is about: an explicit id, or the open round in the channel. */
export interface RoundTarget {
  scope: Scope;
  channelId: string;
  roundId?: string | null;
}

/** The phases a deadline can end. */
function timedPhase(phase: Round['phase']): DeadlineJob['phase'] | null {
  return phase === 'collecting' || phase === 'critiquing' || phase === 'polling' ? phase : null;
}

/**
 * The application service every platform calls. It enforces the rules of a round
 * (who may do what, in which phase), writes through the store and starts pipeline runs.
 */
export class DeliberationService {
  constructor(private readonly deps: ServiceDeps) {}

  // ---- commands -------------------------------------------------------------------

  /**
   * Counts a command against the member's and the workspace's command rates (and the
   * export rates, for an export); throws `rate_limited`, saying when to retry, past one.
   * Adapters call it before running any command, so the service's rules see only the
   * commands admitted.
   */
  async admitCommand(request: CommandRequest): Promise<void> {
    await checkCommandLimits(
      { ...this.deps, limits: this.deps.limits ?? DEFAULT_COMMAND_LIMITS },
      request,
    );
  }

  /**
   * True the first time a platform's delivery (a Discord interaction) reaches any process
   * on this Redis. Two gateway sessions on one shard (a rolling deploy's old and new
   * process) are both sent it, and only one may act on it: a start would open two rounds.
   */
  async firstDelivery(scope: Scope, deliveryId: string): Promise<boolean> {
    return this.deps.store.events.firstSeen(scope, `delivery.${deliveryId}`);
  }

  async start(command: StartCommand): Promise<Round> {
    if (!command.actor.mayStart) {
      throw new DomainError('forbidden', 'Only moderators may start a round in this workspace.');
    }
    const question = NewQuestionSchema.safeParse(command.question);
    if (!question.success) {
      throw new DomainError(
        'invalid_input',
        question.error.issues[0]?.message ?? 'Invalid question.',
      );
    }
    const settings = RoundSettingsSchema.safeParse({ ...DEFAULT_SETTINGS, ...command.settings });
    if (!settings.success) {
      throw new DomainError('invalid_input', settingProblem(settings.error.issues[0]));
    }
    const now = this.deps.now();
    // After validation, so a mistyped command does not use up a member's allowance.
    await checkStartLimits(
      { ...this.deps, limits: this.deps.limits ?? DEFAULT_COMMAND_LIMITS },
      command,
    );
    const round: Round = {
      id: this.deps.newId(),
      scope: command.scope,
      channelId: command.channelId,
      question: question.data,
      createdBy: command.actor.userId,
      createdAt: now,
      deadline: settings.data.minutes === null ? null : now + settings.data.minutes * 60_000,
      settings: settings.data,
      phase: 'collecting',
      questionRef: null,
      version: 0,
      attempt: 0,
      failureReason: null,
      seed: this.deps.newSeed(),
      followUpPending: false,
    };
    await this.deps.store.rounds.create(round);
    try {
      await this.deps.queues.enqueuePublish(
        { scope: round.scope, roundId: round.id, kind: 'question', version: 0, text: null },
        'question',
      );
      if (round.deadline !== null) {
        await this.scheduleDeadline(round, 'collecting', round.deadline);
      }
    } catch (error) {
      await this.withdraw(round, error);
      throw error;
    }
    this.deps.log.info({ roundId: round.id, scope: round.scope }, 'round started');
    return round;
  }

  /**
   * A round whose question could not be queued is cancelled again: nobody saw it, and
   * left open it would make every later command in the channel ask which round is meant.
   * The member is told to try again, and the retry starts a round of its own.
   */
  private async withdraw(round: Round, cause: unknown): Promise<void> {
    const { store, queues, log } = this.deps;
    try {
      await store.rounds.update(round.scope, round.id, (r) => ({
        ...r,
        phase: 'cancelled',
        deadline: null,
      }));
      await queues.cancelDeadline({ scope: round.scope, roundId: round.id, version: 0 });
    } catch (error) {
      log.warn(
        { roundId: round.id, scope: round.scope, err: error, cause },
        'a round whose question could not be queued stays open',
      );
    }
  }

  /** Records where the question was posted; replies in its thread become opinions. */
  async attachQuestion(scope: Scope, roundId: string, ref: MessageRef): Promise<Round> {
    await this.deps.store.messages.link(
      scope,
      ref,
      { roundId, kind: 'question', version: 0 },
      'question',
    );
    return this.deps.store.rounds.update(scope, roundId, (r) => ({ ...r, questionRef: ref }));
  }

  /** `expected`: what the bot saw when it decided on its own; see `requireUnmoved`. */
  async close(target: RoundTarget, actor: Actor | null, expected?: ExpectedState): Promise<Round> {
    const round = await this.resolve(target);
    this.requireModerator(round, actor, 'close');
    switch (round.phase) {
      case 'collecting':
      case 'failed':
        if (round.version === 0) return this.startRun(round, 1, expected);
        return this.startRun(round, round.version + 1, expected);
      case 'critiquing':
        return this.startRun(round, round.version + 1, expected);
      case 'generating':
      case 'revising':
        // A close whose follow-up failed midway (see `followUpPending`): this one completes it.
        if (round.followUpPending) return this.settleFollowUp(round);
        throw new DomainError(
          'illegal_transition',
          `This round is already closed and ${describePhase(round.phase)}; the statement will follow.`,
        );
      case 'polling':
        // The statement never reached the thread (its job gave up: a permission was gone).
        // Once it is back, close posts it again, rather than the opinions being lost to a
        // cancel and a new start. The round is returned still polling, to say so.
        if (await this.repostStatement(round)) return round;
        throw new DomainError(
          'illegal_transition',
          'This round is polling members on its statement: use `finish` to end it, or `critique` to revise it.',
        );
      default:
        throw new DomainError('illegal_transition', `This round is ${describePhase(round.phase)}.`);
    }
  }

  /** Posts a polling round's statement again if it never was; whether it was queued. */
  private async repostStatement(round: Round): Promise<boolean> {
    const slot = `statement:${round.version}`;
    if (await this.deps.store.messages.slot(round.scope, round.id, slot)) return false;
    const job = {
      scope: round.scope,
      roundId: round.id,
      kind: 'statement' as const,
      version: round.version,
      text: null,
    };
    const retried = await this.deps.queues.retryPublish(job, statementOnce(round.version));
    if (retried === 'retried') {
      this.deps.log.info({ roundId: round.id, scope: round.scope }, 'statement posted again');
    }
    return retried !== 'done';
  }

  /** Moves a round into a pipeline run for `version`; of two racing callers one wins. */
  private async startRun(
    round: Round,
    version: number,
    expected: ExpectedState | undefined,
  ): Promise<Round> {
    const { store } = this.deps;
    const target = version === 1 ? 'generating' : 'revising';
    if (version === 1) {
      const opinions = await store.contributions.countAuthors(
        round.scope,
        round.id,
        'opinion',
        0,
        LIMITS.minOpinionsToClose,
      );
      if (opinions < LIMITS.minOpinionsToClose) {
        throw new DomainError(
          'not_enough_opinions',
          `This round has ${opinions} opinion${opinions === 1 ? '' : 's'}; ` +
            `it needs at least ${LIMITS.minOpinionsToClose} to find common ground. It stays open: reply in its thread.`,
        );
      }
    } else {
      const critiques = await store.contributions.countAuthors(
        round.scope,
        round.id,
        'critique',
        version - 1,
        1,
      );
      if (critiques === 0 && round.phase === 'critiquing') {
        throw new DomainError(
          'not_enough_opinions',
          'No critiques yet: reply in the thread to say what the statement misses, then close again.',
        );
      }
    }
    const moved = await store.rounds.update(round.scope, round.id, (r) => {
      requireUnmoved(r, expected);
      if (r.phase === 'generating' || r.phase === 'revising') {
        throw new DomainError(
          'illegal_transition',
          `This round is already closed and ${describePhase(r.phase)}; the statement will follow.`,
        );
      }
      assertTransition(r.phase, target);
      return {
        ...r,
        phase: target,
        attempt: r.attempt + 1,
        deadline: null,
        failureReason: null,
        followUpPending: true,
      };
    });
    return this.settleFollowUp(moved);
  }

  /**
   * What `close` does after moving the round into a run for `version`; each step may run
   * twice (`followUpPending`): the ratings matrix records a poll once, and jobs and
   * messages are queued under ids of their own.
   */
  private async dispatchRun(round: Round, version: number): Promise<void> {
    const { queues } = this.deps;
    // A revision closes the previous version's poll: its ratings must be in the matrix
    // before the new candidates are scored.
    if (version > 1) await this.recordRatings(round, version - 1);
    const job = { scope: round.scope, roundId: round.id, version, attempt: round.attempt };
    // Independent, so together: the pipeline need not wait for the progress message to be
    // queued, nor for the old deadline to go (one that fires meanwhile sees the round has
    // moved on and does nothing).
    await Promise.all([
      queues.cancelDeadline({ scope: round.scope, roundId: round.id, version: round.version }),
      queues.enqueuePublish(
        { ...job, kind: 'progress', text: null },
        `progress-v${version}-a${round.attempt}-started`,
      ),
      queues.enqueueStage('generate', job),
    ]);
    this.deps.log.info(
      { roundId: round.id, scope: round.scope, version, attempt: round.attempt },
      'pipeline run started',
    );
  }

  /** What `finish` does after closing the round; each step may run twice, as in `dispatchRun`. */
  private async closeOut(round: Round): Promise<void> {
    const { store, queues } = this.deps;
    await this.stopTimers(round);
    const poll = await store.polls.poll(round.scope, round.id, round.version);
    if (poll && poll.closedAt === null) {
      await store.polls.savePoll(round.scope, { ...poll, closedAt: this.deps.now() });
    }
    await this.recordRatings(round, round.version);
    await queues.enqueuePublish(
      {
        scope: round.scope,
        roundId: round.id,
        kind: 'results',
        version: round.version,
        text: null,
      },
      'results',
    );
  }

  /**
   * Runs the follow-up of the round's last `close`, `critique` or `finish` and marks it
   * done. Returns the round as that command left it (the pipeline may have moved it on by
   * now, and the command's reply is about what it did).
   */
  private async settleFollowUp(round: Round): Promise<Round> {
    if (!round.followUpPending) return round;
    if (round.phase === 'generating') await this.dispatchRun(round, 1);
    else if (round.phase === 'revising') await this.dispatchRun(round, round.version + 1);
    else if (round.phase === 'closed') await this.closeOut(round);
    else if (round.phase === 'critiquing') await this.inviteCritiques(round);
    else return round;
    // Only the same run: the pipeline may have moved the round on (and cleared it) by now.
    await this.deps.store.rounds.update(round.scope, round.id, (r) =>
      r.phase === round.phase && r.attempt === round.attempt && r.version === round.version
        ? { ...r, followUpPending: false }
        : r,
    );
    return { ...round, followUpPending: false };
  }

  /** `expected`: what the bot saw when it decided on its own; see `requireUnmoved`. */
  async critique(
    target: RoundTarget,
    actor: Actor | null,
    expected?: ExpectedState,
  ): Promise<Round> {
    const round = await this.resolve(target);
    this.requireModerator(round, actor, 'start a critique of');
    const minutes = round.settings.minutes;
    const deadline = minutes === null ? null : this.deps.now() + minutes * 60_000;
    const moved = await this.deps.store.rounds.update(round.scope, round.id, (r) => {
      // A critique whose follow-up failed midway (see `followUpPending`): this one completes it.
      if (isPending(r, 'critiquing', expected)) return r;
      requireUnmoved(r, expected);
      assertTransition(r.phase, 'critiquing');
      return { ...r, phase: 'critiquing', deadline, followUpPending: true };
    });
    return this.settleFollowUp(moved);
  }

  /**
   * Removes the round's pending deadline and its poll's reminder, which would otherwise
   * wait in Redis for days to fire and do nothing (each checks the phase when it fires).
   */
  private async stopTimers(round: Pick<Round, 'scope' | 'id' | 'version'>): Promise<void> {
    const job = { scope: round.scope, roundId: round.id, version: round.version };
    await Promise.all([this.deps.queues.cancelDeadline(job), this.deps.queues.cancelReminder(job)]);
  }

  /** What `critique` does after moving the round; each step may run twice, as in `dispatchRun`. */
  private async inviteCritiques(round: Round): Promise<void> {
    // The poll's deadline and reminder are over: the poll closed for critiques.
    await this.stopTimers(round);
    await this.deps.queues.enqueuePublish(
      {
        scope: round.scope,
        roundId: round.id,
        kind: 'critique-invite',
        version: round.version,
        text: null,
      },
      `critique-v${round.version}`,
    );
    if (round.deadline !== null) await this.scheduleDeadline(round, 'critiquing', round.deadline);
  }

  /**
   * Moves the current phase's deadline to `minutes` from now (or sets one): opinions,
   * critiques or the poll stay open that much longer. The delayed job is replaced.
   */
  async extend(target: RoundTarget, actor: Actor | null, minutes: number): Promise<Round> {
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > LIMITS.maxMinutes) {
      throw new DomainError(
        'invalid_input',
        `Extend by a whole number of minutes from 1 to ${LIMITS.maxMinutes}; got ${minutes}.`,
      );
    }
    const round = await this.resolve(target);
    this.requireModerator(round, actor, 'extend');
    const deadline = this.deps.now() + minutes * 60_000;
    const moved = await this.deps.store.rounds.update(round.scope, round.id, (r) => {
      if (timedPhase(r.phase) === null) {
        throw new DomainError(
          'illegal_transition',
          `This round is ${describePhase(r.phase)}; only collecting opinions or critiques, or a poll, can be extended.`,
        );
      }
      return { ...r, deadline };
    });
    const phase = timedPhase(moved.phase);
    if (phase) await this.scheduleDeadline(moved, phase, deadline);
    return moved;
  }

  /** `expected`: what the bot saw when it decided on its own; see `requireUnmoved`. */
  async finish(
    target: RoundTarget,
    actor: Actor | null,
    expected?: ExpectedState,
  ): Promise<ResultsView> {
    const round = await this.resolve(target);
    this.requireModerator(round, actor, 'finish');
    const moved = await this.deps.store.rounds.update(round.scope, round.id, (r) => {
      // A finish whose follow-up failed midway (see `followUpPending`), retried by a
      // moderator or by its deadline's next attempt: this one completes it.
      if (isPending(r, 'closed', expected)) return r;
      requireUnmoved(r, expected);
      if (r.phase === 'failed' && r.version === 0) {
        throw new DomainError(
          'illegal_transition',
          'No statement was put to a vote yet, so there is nothing to finish: retry with `close`, or `cancel` the round.',
        );
      }
      assertTransition(r.phase, 'closed');
      return { ...r, phase: 'closed', deadline: null, followUpPending: true };
    });
    return this.results(await this.settleFollowUp(moved));
  }

  /**
   * The platform says the thread under a message was deleted: if it was a round's (the
   * thread of its question), the round is cancelled; the cancelled round, else null.
   */
  async threadDeleted(scope: Scope, channelId: string, threadId: string): Promise<Round | null> {
    const role = await this.deps.store.messages.lookup(scope, channelId, threadId);
    if (role?.kind !== 'question') return null;
    return this.cancelForGoneThread(scope, role.roundId);
  }

  /**
   * The platform says a channel is out of reach for good (deleted or archived): every open
   * round in it is cancelled, since nothing more can be posted there. The rounds cancelled,
   * for the adapter to tell their starters.
   */
  async channelGone(scope: Scope, channelId: string): Promise<Round[]> {
    const open = await this.deps.store.rounds.openInChannel(scope, channelId);
    const cancelled = await Promise.all(
      open.map((round) => this.cancelForGoneThread(scope, round.id)),
    );
    return cancelled.filter((round): round is Round => round !== null);
  }

  /**
   * The platform says the bot was removed from a channel (or lost what a round needs
   * there). That can be undone (invite it back), so its open rounds stay open; the ones
   * whose starters have not been told within `toldForSeconds` are returned for the adapter
   * to tell: ten minutes for a live event (a removal may be reported by more than one),
   * longer for what a start finds (`REMOVAL_REMINDER_SECONDS`).
   */
  async botRemoved(
    scope: Scope,
    channelId: string,
    toldForSeconds: number = REMOVAL_TOLD_SECONDS,
  ): Promise<Round[]> {
    const open = await this.deps.store.rounds.openInChannel(scope, channelId);
    const untold = await Promise.all(
      open.map((round) =>
        this.deps.store.events.firstSeen(scope, removalToldKey(round.id), toldForSeconds),
      ),
    );
    return open.filter((_, i) => untold[i]);
  }

  /** The bot is back in a channel (or has its permissions back): a next loss is told anew. */
  async botBack(scope: Scope, channelId: string): Promise<void> {
    const open = await this.deps.store.rounds.openInChannel(scope, channelId);
    await Promise.all(
      open.map((round) => this.deps.store.events.forget(scope, removalToldKey(round.id))),
    );
  }

  /**
   * The platform says one of the bot's messages was deleted. Only the statement of an open
   * poll matters: nobody can rate it any more, though the ratings given stay, so the
   * thread is told what a moderator can do; once, however often the deletion is reported.
   */
  async statementDeleted(
    scope: Scope,
    channelId: string,
    messageId: string,
  ): Promise<NoticeView | null> {
    const role = await this.deps.store.messages.lookup(scope, channelId, messageId);
    if (role?.kind !== 'statement') return null;
    const round = await this.deps.store.rounds.get(scope, role.roundId);
    if (round?.phase !== 'polling' || round.version !== role.version) return null;
    const first = await this.deps.store.events.firstSeen(
      scope,
      `statement-deleted:${channelId}:${messageId}`,
    );
    if (!first) return null;
    return { ...headerOf(round), text: statementDeletedNotice(round) };
  }

  /**
   * Cancels a round whose thread the platform says is gone (see `ThreadGoneError`);
   * the cancelled round, or null when it was over already.
   */
  async cancelForGoneThread(scope: Scope, roundId: string): Promise<Round | null> {
    let moved = false;
    let polled = false;
    const round = await this.deps.store.rounds.update(scope, roundId, (r) => {
      if (isTerminal(r.phase)) return r;
      moved = true;
      polled = r.phase === 'polling' || r.phase === 'critiquing';
      return { ...r, phase: 'cancelled', deadline: null, followUpPending: false };
    });
    if (!moved) return null;
    if (polled) await this.recordCancelledPoll(round);
    await this.stopTimers(round);
    this.deps.log.info({ roundId, scope }, 'round cancelled: its thread is gone');
    return round;
  }

  /**
   * A poll cancelled instead of finished still holds members' real ratings of a posted
   * statement: they join the workspace's matrix as every other closed poll's do. The
   * round is cancelled whatever happens here, so a failed write is logged, not thrown.
   */
  private async recordCancelledPoll(round: Round): Promise<void> {
    await this.recordRatings(round, round.version).catch((err: unknown) => {
      this.deps.log.warn(
        { roundId: round.id, scope: round.scope, err },
        "a cancelled poll's ratings could not be added to the ratings matrix",
      );
    });
  }

  async cancel(target: RoundTarget, actor: Actor | null): Promise<Round> {
    const round = await this.resolve(target);
    this.requireModerator(round, actor, 'cancel');
    let running = false;
    let polled = false;
    const moved = await this.deps.store.rounds.update(round.scope, round.id, (r) => {
      assertTransition(r.phase, 'cancelled');
      running = r.phase === 'generating' || r.phase === 'revising';
      polled = r.phase === 'polling' || r.phase === 'critiquing';
      return { ...r, phase: 'cancelled', deadline: null, followUpPending: false };
    });
    if (polled) await this.recordCancelledPoll(moved);
    await this.stopTimers(moved);
    // A poll whose statement is not posted yet (the cancel landed as the select stage
    // finished) was announced as "the statement is below" by a progress edit that may run
    // before the cancel: it has to be edited once more, to say the round was cancelled.
    const unposted =
      polled &&
      !(await this.deps.store.messages.slot(moved.scope, moved.id, `statement:${moved.version}`));
    if (running || unposted) {
      // The run's progress message would otherwise stay at "Working on it" for good.
      const version = running ? moved.version + 1 : moved.version;
      await this.deps.queues.enqueuePublish(
        { scope: moved.scope, roundId: moved.id, kind: 'progress', version, text: null },
        `progress-v${version}-a${moved.attempt}-cancelled`,
      );
    }
    await this.deps.queues.enqueuePublish(
      {
        scope: moved.scope,
        roundId: moved.id,
        kind: 'notice',
        version: moved.version,
        // An anonymous round names nobody, not even the moderator.
        text:
          actor === null
            ? 'This round was cancelled by the bot.'
            : moved.settings.anonymous
              ? 'This round was cancelled by a moderator.'
              : `This round was cancelled by <@${actor.userId}>.`,
      },
      'cancelled',
    );
    return moved;
  }

  async status(target: RoundTarget): Promise<StatusView> {
    const round = await this.resolve(target, true);
    const view = await roundViews.statusView(this.deps.store, round);
    const unposted =
      round.phase === 'polling' &&
      (await this.deps.queues.publishGaveUp(
        { scope: round.scope, roundId: round.id },
        statementOnce(round.version),
      ));
    // Polling on a statement nobody sees: say what posts it.
    if (!unposted) return view;
    return {
      ...view,
      phaseText: `${view.phaseText} (its statement could not be posted: once the bot may post there again, run \`close\` to post it)`,
    };
  }

  /** Results of every posted version so far (the round need not be finished). */
  async results(targetOrRound: RoundTarget | Round): Promise<ResultsView> {
    const round =
      'phase' in targetOrRound ? targetOrRound : await this.resolve(targetOrRound, true);
    return roundViews.resultsView(this.deps.store, round);
  }

  /** Everything about a round, for `/consensus export` (JSON). */
  async export(target: RoundTarget): Promise<RoundExport> {
    return roundExport(this.deps.store, await this.resolve(target, true));
  }

  /**
   * Every round of the command's workspace, oldest first, for `/consensus export all`:
   * moderators only, since it holds the rounds of every channel, private ones included.
   * The scope is the platform's own (the bot's workspace or the command's guild), never
   * one named by the member, so no other workspace's rounds can come back.
   */
  async exportWorkspace(scope: Scope, actor: Actor): Promise<RoundExport[]> {
    if (!actor.moderator) {
      throw new DomainError(
        'forbidden',
        'Only moderators may export the whole workspace: it holds the rounds of every channel. ' +
          'To export one round, give its id, or run the command in its channel.',
      );
    }
    return collectRoundExports({ service: this, store: this.deps.store }, scope, null);
  }

  /**
   * A round of the workspace by id, whatever its channel: for operators' tools
   * (`npm run export`), never for a platform command, which must go through `export`.
   */
  async exportById(scope: Scope, roundId: string): Promise<RoundExport> {
    return roundExport(this.deps.store, await this.deps.store.rounds.require(scope, roundId));
  }

  // ---- events from the thread --------------------------------------------------------

  /** A new or edited reply in a round's thread: an opinion while collecting, a critique while critiquing. */
  async reply(event: ReplyEvent): Promise<ReplyOutcome> {
    return ingest.reply(this.deps.store, event);
  }

  /** A reply was deleted: it no longer counts, in any phase, and a late event cannot revive it. */
  async removeReply(event: Omit<ReplyEvent, 'text' | 'userId' | 'at'>): Promise<ReplyOutcome> {
    return ingest.removeReply(this.deps.store, event);
  }

  /** A reply deleted in a thread the platform did not name: removed from the channel's open round that holds it. */
  async removeReplyInChannel(
    event: Pick<ReplyEvent, 'scope' | 'channelId' | 'messageId'>,
  ): Promise<ReplyOutcome> {
    return ingest.removeReplyInChannel(this.deps.store, event);
  }

  /** A reaction on a statement; adapters drop the bot's own reactions before calling. */
  /**
   * Whether a message is one of the bot's statements, so a reaction on it may be a
   * rating: lets a platform ask its costlier questions about the reactor (is it a bot?)
   * only for reactions that could count, not for every 👍 in the workspace.
   */
  async isStatementMessage(scope: Scope, channelId: string, messageId: string): Promise<boolean> {
    return (
      (await this.deps.store.messages.lookup(scope, channelId, messageId))?.kind === 'statement'
    );
  }

  async react(event: ReactionEvent): Promise<RatingOutcome> {
    let { outcome, rated } = await ingest.reactOnPoll(this.deps.store, event);
    // Buttons exist only on the bot's own statements: a click on an unknown message is on
    // a statement posted a moment ago, whose link to its round is still being written.
    for (
      let i = 0;
      i < CLICK_LINK_RETRIES &&
      event.source === 'button' &&
      outcome.status === 'ignored' &&
      !outcome.roundId;
      i++
    ) {
      await new Promise((r) => setTimeout(r, CLICK_LINK_RETRY_MS));
      ({ outcome, rated } = await ingest.reactOnPoll(this.deps.store, event));
    }
    if (outcome.status === 'recorded' && rated && rated.round.settings.reviseBelow !== null) {
      // The rating is stored whatever this finds; a failure here must not undo or retry it.
      await this.reviseOnceEveryoneRated(rated.round, rated.poll, event.userId).catch(
        (error: unknown) =>
          this.deps.log.warn(
            {
              roundId: outcome.roundId,
              err: errorMessage(error),
            },
            'revise-below check after a rating failed',
          ),
      );
    }
    return outcome;
  }

  /**
   * `--revise-below` in a round without `--poll-minutes`, which has no deadline to check it:
   * at the rating that completes the first poll's turnout (everyone the statement was
   * written for, the poll's participants, has rated), a mean approval under the threshold
   * sends the round to critique. Checked that once: later changes of mind are for the
   * moderator, as they are after a deadline. With a deadline, the deadline decides, as the
   * moderator set it to.
   */
  private async reviseOnceEveryoneRated(round: Round, poll: Poll, raterId: string): Promise<void> {
    if (round.settings.pollMinutes !== null) return;
    if (round.phase !== 'polling' || round.version !== 1 || poll.version !== 1) return;
    // Every rating comes here, and reading the whole poll each time would make a poll of N
    // members cost N^2: only a participant's rating can complete the turnout, fewer
    // recorded reactions than participants means someone is still missing, and once it was
    // complete there is nothing left to check.
    if (!Object.hasOwn(poll.predicted, raterId)) return;
    const { store } = this.deps;
    const participants = Object.keys(poll.predicted).map((id) => ratingIdOf(round, id));
    if ((await store.polls.reactionEntries(round.scope, poll)) < participants.length) return;
    if (await store.polls.turnoutMarked(round.scope, poll)) return;
    const ratings = await store.polls.ratings(round.scope, poll);
    if (!everyoneRated(participants, ratings)) return;
    // Of two last ratings racing, one goes on.
    if (!(await store.polls.markTurnout(round.scope, poll, this.deps.now()))) return;
    if (!this.isBelowRevise(round, poll, ratings)) return;
    try {
      await this.critique(
        { scope: round.scope, channelId: round.channelId, roundId: round.id },
        null,
        { phase: 'polling', version: 1 },
      );
    } catch (error) {
      // Another last rating, a moderator or a deadline moved the round first.
      if (error instanceof DomainError && error.code === 'conflict') return;
      throw error;
    }
  }

  // ---- catching up after the adapter was offline ------------------------------------------

  /** The open rounds of these channels, for an adapter to reread their threads and polls. */
  async openRounds(scope: Scope, channelIds: readonly string[]): Promise<OpenRoundState[]> {
    return ingest.openRounds(this.deps.store, scope, channelIds);
  }

  /** The open rounds among the workspace's `limit` most recent, newest first, to reread. */
  async recentOpenRounds(scope: Scope, limit: number): Promise<OpenRoundState[]> {
    return ingest.recentOpenRounds(this.deps.store, scope, limit);
  }

  /** The reactions stored on a statement whose poll is open and counts reactions, or null. */
  async pollReactions(
    scope: Scope,
    channelId: string,
    messageId: string,
  ): Promise<PollReactions | null> {
    return ingest.pollReactions(this.deps.store, scope, channelId, messageId);
  }

  // ---- deadlines -------------------------------------------------------------------------

  private async scheduleDeadline(round: Round, phase: DeadlineJob['phase'], at: number) {
    await this.deps.queues.scheduleDeadline(
      { scope: round.scope, roundId: round.id, phase, version: round.version },
      at,
      this.deps.now(),
    );
  }

  /** Called by the deadline worker; a round that has moved on ignores it. */
  async onDeadline(job: DeadlineJob): Promise<void> {
    const round = await this.deps.store.rounds.get(job.scope, job.roundId);
    if (!round || round.version !== job.version) return;
    // This deadline's own earlier attempt (or a moderator) moved the round on and failed
    // before the follow-up was done: the retry completes it rather than finding nothing to do.
    if (job.kind !== 'reminder' && round.phase !== job.phase && round.followUpPending) {
      await this.settleFollowUp(round);
      return;
    }
    if (round.phase !== job.phase) return;
    // An `extend` moved the deadline after this job was scheduled (or while it was already
    // running, when BullMQ could not replace it): the job for the new time decides.
    if (job.kind !== 'reminder' && job.at !== undefined && round.deadline !== job.at) return;
    if (job.kind === 'reminder') {
      // Built when published, so who is named is who still has not rated then.
      await this.deps.queues.enqueuePublish(
        {
          scope: round.scope,
          roundId: round.id,
          kind: 'reminder',
          version: round.version,
          text: null,
        },
        `reminder-v${round.version}`,
      );
      return;
    }
    try {
      const target = { scope: job.scope, channelId: round.channelId, roundId: round.id };
      // The deadline too: an `extend` landing from here on makes this deadline's move a conflict.
      const seen = { phase: job.phase, version: job.version, deadline: round.deadline };
      if (job.phase !== 'polling') await this.close(target, null, seen);
      else if (await this.belowReviseThreshold(round)) await this.critique(target, null, seen);
      else await this.finish(target, null, seen);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      // A moderator, or the rating that completed the poll, moved the round meanwhile:
      // nothing is left for this deadline to do or say.
      const now = await this.deps.store.rounds.get(round.scope, round.id);
      if (
        error.code === 'conflict' ||
        now?.phase !== job.phase ||
        now.version !== job.version ||
        now.deadline !== round.deadline
      ) {
        return;
      }
      // Not enough opinions or critiques at the deadline: say so; the round stays open,
      // until a moderator closes it (status must not show a deadline in the past).
      await this.deps.store.rounds.update(round.scope, round.id, (r) =>
        r.phase === job.phase && r.version === job.version && r.deadline === round.deadline
          ? { ...r, deadline: null }
          : r,
      );
      await this.deps.queues.enqueuePublish(
        {
          scope: round.scope,
          roundId: round.id,
          kind: 'notice',
          version: round.version,
          text:
            error.code === 'not_enough_opinions' ? await this.deadlineMissed(round) : error.message,
        },
        `deadline-${job.phase}-v${job.version}-${round.deadline ?? 0}`,
      );
    }
  }

  /** What the thread is told when a set's deadline passed with too little in it to close. */
  private async deadlineMissed(round: Round): Promise<string> {
    if (round.phase === 'critiquing') return deadlineMissedNotice({ kind: 'critique' });
    const needed = LIMITS.minOpinionsToClose;
    const opinions = await this.deps.store.contributions.countAuthors(
      round.scope,
      round.id,
      'opinion',
      0,
      needed,
    );
    return deadlineMissedNotice({ kind: 'opinion', opinions, needed });
  }

  /**
   * `--revise-below`: the first poll, rated by someone, with a mean approval under the
   * threshold goes to critique at its deadline rather than finishing. Only the first poll,
   * so a round cannot loop through revisions on its own.
   */
  private async belowReviseThreshold(round: Round): Promise<boolean> {
    const threshold = round.settings.reviseBelow;
    if (threshold === null || round.version !== 1) return false;
    const poll = await this.deps.store.polls.poll(round.scope, round.id, 1);
    if (!poll) return false;
    return this.isBelowRevise(round, poll, await this.deps.store.polls.ratings(round.scope, poll));
  }

  private isBelowRevise(round: Round, poll: Poll, ratings: readonly Rating[]): boolean {
    const threshold = round.settings.reviseBelow;
    if (threshold === null) return false;
    const { meanApproval } = pollResults({
      scale: poll.scale,
      ratings: [...ratings],
      predicted: poll.predicted,
      welfare: round.settings.welfare,
    });
    return meanApproval !== null && approvalBelow(meanApproval, threshold / 100);
  }

  /**
   * The statement of `version` is up: with `--poll-minutes` its poll gets a deadline that
   * finishes it. Called by the publisher after posting, so the time counts from when
   * members can see the poll; calling it again (a retried job) reschedules the same time.
   */
  async openPoll(scope: Scope, roundId: string, version: number): Promise<void> {
    const round = await this.deps.store.rounds.get(scope, roundId);
    const remind = round?.settings.remindMinutes ?? null;
    if (round && remind !== null && round.phase === 'polling' && round.version === version) {
      await this.deps.queues.scheduleReminder(
        { scope, roundId, phase: 'polling', version },
        this.deps.now() + remind * 60_000,
        this.deps.now(),
      );
    }
    const minutes = round?.settings.pollMinutes ?? null;
    if (!round || minutes === null || round.phase !== 'polling' || round.version !== version) {
      return;
    }
    const deadline = round.deadline ?? this.deps.now() + minutes * 60_000;
    const moved = await this.deps.store.rounds.update(scope, roundId, (r) =>
      r.phase === 'polling' && r.version === version ? { ...r, deadline } : r,
    );
    if (moved.phase === 'polling' && moved.version === version) {
      await this.scheduleDeadline(moved, 'polling', deadline);
    }
  }

  // ---- views the publisher renders --------------------------------------------------------

  /** The reminder for `version`'s poll, or null when there is nobody to remind. */
  async reminderView(round: Round, version: number): Promise<NoticeView | null> {
    return roundViews.reminderView(this.deps.store, round, version, this.deps.now());
  }

  async statementView(round: Round, version: number): Promise<StatementView> {
    return roundViews.statementView(this.deps.store, round, version);
  }

  // ---- helpers -------------------------------------------------------------------------

  /**
   * Adds a closed poll's ratings (each member's latest reaction) to the workspace's
   * ratings matrix, with the round's opinions; recording it twice changes nothing.
   */
  private async recordRatings(round: Round, version: number): Promise<void> {
    const { store } = this.deps;
    // Anonymous ratings cannot be tied to an opinion (that is the point), so they teach
    // the learned model nothing and stay out of the workspace's matrix.
    if (round.settings.anonymous) return;
    const poll = await store.polls.poll(round.scope, round.id, version);
    if (!poll) return;
    const [ratings, opinions] = await Promise.all([
      store.polls.ratings(round.scope, poll),
      store.contributions.list(round.scope, round.id, 'opinion', 0),
    ]);
    await store.ratingsMatrix.recordPoll(round.scope, {
      roundId: round.id,
      version,
      question: round.question,
      statement: poll.statement,
      openedAt: poll.openedAt,
      ratings,
      opinions,
    });
  }

  /**
   * The round a command is about: the one named (which must belong to this channel, so a
   * moderator of one channel cannot act on another's rounds), else the channel's open one.
   * `readOnly` commands (status, results, export) fall back to the channel's latest round,
   * so they still work right after `finish`.
   */
  async resolve(target: RoundTarget, readOnly = false): Promise<Round> {
    const { rounds } = this.deps.store;
    if (target.roundId) {
      // The id is part of a key: one that cannot be a round's (`r1:poll:1`) must not reach
      // Redis, where it could name another kind of key and fail as an internal error.
      if (!KeySafeIdSchema.safeParse(target.roundId).success) {
        throw new DomainError('invalid_input', `"${target.roundId}" is not a round id.`);
      }
      const round = await rounds.require(target.scope, target.roundId);
      if (round.channelId !== target.channelId) {
        throw new DomainError(
          'not_found',
          `Round ${round.id} belongs to another channel; run the command there.`,
        );
      }
      return round;
    }
    const open = await rounds.openInChannel(target.scope, target.channelId);
    if (open.length === 0 && readOnly) {
      const latest = await rounds.latestInChannel(target.scope, target.channelId);
      if (latest) return latest;
    }
    if (open.length === 0) {
      throw new DomainError(
        'not_found',
        'There is no open round in this channel. Start one with `/consensus start`.',
      );
    }
    if (open.length > 1) {
      throw new DomainError(
        'invalid_input',
        `This channel has ${open.length} open rounds: ${openRoundsList(open)}. ${howToNameOne(target.scope)}`,
      );
    }
    return open[0] as Round;
  }

  private requireModerator(round: Round, actor: Actor | null, what: string): void {
    // null = the bot itself (deadlines).
    if (actor === null || actor.moderator || actor.userId === round.createdBy) return;
    throw new DomainError(
      'forbidden',
      `Only a moderator or the member who started this round may ${what} it.`,
    );
  }
}

/** The phase and version a decision the bot took on its own was based on. */
export interface ExpectedState {
  phase: RoundPhase;
  version: number;
  /** A deadline's decision: the deadline it fired for, which an `extend` moves. */
  deadline?: number | null;
}

/**
 * The round is in `phase` with the follow-up of the move there still to do, and (for a
 * caller that decided on its own) at the version it saw.
 */
function isPending(round: Round, phase: RoundPhase, expected: ExpectedState | undefined): boolean {
  return (
    round.phase === phase &&
    round.followUpPending &&
    round.version === (expected?.version ?? round.version)
  );
}

/**
 * Inside a round's update: the bot decided on what it saw before (a deadline, the rating
 * that completed a poll), and the round must still be so. Otherwise another decision won,
 * and a legal move from where the round is now (critiquing -> closed, or a critique of the
 * revised poll) would act on a state nobody decided about; and a deadline a moderator
 * extended meanwhile is not the one that fired.
 */
function requireUnmoved(round: Round, expected: ExpectedState | undefined): void {
  if (!expected) return;
  const extended = expected.deadline !== undefined && round.deadline !== expected.deadline;
  if (round.phase !== expected.phase || round.version !== expected.version || extended) {
    throw new DomainError('conflict', 'The round moved on before this could apply.');
  }
}

/** Ids alone mean nothing to the moderator who must pick one: each with its question, oldest first. */
function openRoundsList(open: readonly Round[]): string {
  return [...open]
    .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
    .map((r) => `\`${r.id}\` ${quoted(clipWords(r.question, 80))}`)
    .join(', ');
}

/** How a member names one round of several: Discord takes it as an option, Slack as a word. */
function howToNameOne(scope: Scope): string {
  return scope.platform === 'discord'
    ? 'Name one with the `round` option.'
    : 'Name one: give its id after the command.';
}

/**
 * A setting the platform's own parsing let through (Discord enforces its registered
 * ranges; a hand-written client does not), in words: "candidates takes at most 16."
 */
function settingProblem(issue: z.core.$ZodIssue | undefined): string {
  const key = String(issue?.path[0] ?? 'setting');
  // pollMinutes -> "poll minutes": the name each platform's option is spelt from.
  const name = key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
  if (issue?.code === 'too_big') return `The ${name} setting takes at most ${issue.maximum}.`;
  if (issue?.code === 'too_small') return `The ${name} setting takes at least ${issue.minimum}.`;
  return `The ${name} setting is not valid: ${issue?.message ?? 'unreadable value'}.`;
}

/** The key that remembers a round's starter was told the bot lost its channel. */
function removalToldKey(roundId: string): string {
  return `bot-removed:${roundId}`;
}
