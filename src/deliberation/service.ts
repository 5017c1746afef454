import { createHmac } from 'node:crypto';
import type { Candidate } from '../domain/candidate.js';
import { DomainError } from '../domain/errors.js';
import {
  type CommandLimits,
  clip,
  DEFAULT_COMMAND_LIMITS,
  describeWait,
  LIMITS,
} from '../domain/limits.js';
import type { Log } from '../domain/log.js';
import { assertTransition, describePhase, isTerminal } from '../domain/phase.js';
import { pollOptions } from '../domain/poll-scale.js';
import {
  concealed,
  endorsement,
  type LeastServed,
  type PollResults,
  pollResults,
} from '../domain/results.js';
import {
  DEFAULT_SETTINGS,
  type MessageRef,
  QuestionSchema,
  type Round,
  type RoundSettings,
  RoundSettingsSchema,
  ratesWithButtons,
} from '../domain/round.js';
import type { Scope } from '../domain/scope.js';
import { selectConsensus } from '../domain/selection.js';
import type { DeadlineJob } from '../pipeline/payloads.js';
import type { PipelineQueues } from '../pipeline/queues.js';
import type { ReplySlot } from '../store/contributions.js';
import type { ContributionKind } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { Actor } from './ports.js';
import {
  type ExclusionCheck,
  headerOf,
  type NoticeView,
  type ResultsView,
  type StatementView,
  type StatusView,
  type VersionResults,
} from './views.js';

export interface ServiceDeps {
  store: Store;
  queues: PipelineQueues;
  log: Log;
  now: () => number;
  newId: () => string;
  newSeed: () => number;
  /** Start rates and open-round caps; DEFAULT_COMMAND_LIMITS when not given. */
  limits?: CommandLimits;
}

export interface StartCommand {
  scope: Scope;
  channelId: string;
  actor: Actor;
  question: string;
  settings?: Partial<RoundSettings>;
}

/** Which round a command is about: an explicit id, or the open round in the channel. */
export interface RoundTarget {
  scope: Scope;
  channelId: string;
  roundId?: string | null;
}

/** A reply in a round's thread, as the adapter saw it. */
export interface ReplyEvent {
  scope: Scope;
  channelId: string;
  /** The message the thread hangs off (Slack thread_ts, Discord thread's starter). */
  threadRootId: string;
  messageId: string;
  userId: string;
  text: string;
  /** When the message was first posted (orders a member's replies). */
  at: number;
  /**
   * When this text was written: the edit's time for an edit, else `at`. An edit older than
   * the stored text is ignored, so out-of-order delivery cannot undo a later edit.
   */
  revision?: number;
  /** Platform event id for de-duplication of redelivered events. */
  eventId?: string | null;
}

export interface ReplyOutcome {
  status: 'recorded' | 'edited' | 'removed' | 'ignored' | 'duplicate';
  kind: ContributionKind | null;
  roundId: string | null;
  /** Something the member should be told (e.g. their reply was cut), or null. */
  notice: string | null;
}

export interface ReactionEvent {
  scope: Scope;
  channelId: string;
  messageId: string;
  userId: string;
  optionKey: string;
  at: number;
  removed: boolean;
  eventId?: string | null;
  /**
   * 'button': a click on an anonymous or hidden round's poll (sets the rating, replacing
   * any other); absent or 'reaction': an emoji reaction, counted only in the other rounds.
   */
  source?: 'reaction' | 'button';
  /**
   * The reaction as the platform names it ('+1::skin-tone-2', '👍🏽'); two variants of one
   * option are two reactions, each removed on its own. Defaults to the option key.
   */
  variant?: string;
}

export interface RatingOutcome {
  status: 'recorded' | 'removed' | 'ignored' | 'duplicate';
  roundId: string | null;
}

/** An open round, as an adapter needs it to catch up on events it missed while offline. */
export interface OpenRoundState {
  round: Round;
  /**
   * The set new replies go to now, with the ids of the messages it holds, and `since`: the
   * bot's message that opened it (the question, or the critique invitation), as replies
   * before it belong elsewhere; null before it is posted. Null when no set is open.
   */
  replies: (ReplySlot & { messageIds: string[]; since: string | null }) | null;
  /** The statement whose poll counts reactions now (not a buttons poll), or null. */
  statement: MessageRef | null;
}

/** The reactions stored on a statement whose poll is open and counts reactions. */
export interface PollReactions {
  roundId: string;
  version: number;
  reactions: { userId: string; optionKey: string; variant: string }[];
}

/**
 * The generator's note for a statement written from cluster summaries starts so (see
 * `summaryNote` in src/models/llm/large-group.ts; a test holds the two together).
 */
export function isSummaryNote(note: string): boolean {
  return note.startsWith('made from summaries');
}

/**
 * A rating for a poll that is over. It carries the round's thread (its question's message),
 * so an adapter can answer the member there: a reaction event does not say where it is.
 */
export class PollClosedError extends DomainError {
  constructor(readonly thread: MessageRef | null) {
    super('poll_closed', 'This poll is closed; your reaction was not counted.');
  }
}

const IGNORED: ReplyOutcome = { status: 'ignored', kind: null, roundId: null, notice: null };

/** The phases a deadline can end. */
function timedPhase(phase: Round['phase']): DeadlineJob['phase'] | null {
  return phase === 'collecting' || phase === 'critiquing' || phase === 'polling' ? phase : null;
}

/** The set a new reply goes to in the round's current phase, or null when none is open. */
function openSlot(round: Round): ReplySlot | null {
  if (round.phase === 'collecting') return { kind: 'opinion', version: 0 };
  if (round.phase === 'critiquing') return { kind: 'critique', version: round.version };
  return null;
}

/**
 * The application service every platform calls. It enforces the rules of a round
 * (who may do what, in which phase), writes through the store and starts pipeline runs.
 */
export class DeliberationService {
  constructor(private readonly deps: ServiceDeps) {}

  // ---- commands -------------------------------------------------------------------

  async start(command: StartCommand): Promise<Round> {
    if (!command.actor.mayStart) {
      throw new DomainError('forbidden', 'Only moderators may start a round in this workspace.');
    }
    const question = QuestionSchema.safeParse(command.question);
    if (!question.success) {
      throw new DomainError(
        'invalid_input',
        question.error.issues[0]?.message ?? 'Invalid question.',
      );
    }
    const settings = RoundSettingsSchema.safeParse({ ...DEFAULT_SETTINGS, ...command.settings });
    if (!settings.success) {
      const issue = settings.error.issues[0];
      throw new DomainError(
        'invalid_input',
        `Invalid ${issue?.path.join('.') ?? 'setting'}: ${issue?.message}.`,
      );
    }
    const now = this.deps.now();
    // After validation, so a mistyped command does not use up a member's allowance.
    await this.checkStartLimits(command, now);
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
    };
    await this.deps.store.rounds.create(round);
    await this.deps.queues.enqueuePublish(
      { scope: round.scope, roundId: round.id, kind: 'question', version: 0, text: null },
      'question',
    );
    if (round.deadline !== null) await this.scheduleDeadline(round, 'collecting', round.deadline);
    this.deps.log.info({ roundId: round.id, scope: round.scope }, 'round started');
    return round;
  }

  /**
   * The open-round cap first (it costs nothing to be refused), then the member's and
   * the workspace's start rates; a member refused does not count against the workspace.
   * Two starts racing past the cap can both land: the cap bounds load, it is not a quota.
   */
  private async checkStartLimits(command: StartCommand, now: number): Promise<void> {
    const limits = this.deps.limits ?? DEFAULT_COMMAND_LIMITS;
    const { store, log } = this.deps;
    if (limits.openRoundsPerChannel > 0) {
      const open = await store.rounds.openInChannel(command.scope, command.channelId);
      if (open.length >= limits.openRoundsPerChannel) {
        log.info(
          { scope: command.scope, channelId: command.channelId, open: open.length },
          'start refused: MAX_OPEN_ROUNDS_PER_CHANNEL',
        );
        throw new DomainError(
          'limit_reached',
          `This channel already has ${open.length} open rounds, the most allowed at once. ` +
            'Finish or cancel one of them first.',
        );
      }
    }
    const rates = [
      {
        setting: 'LIMIT_STARTS_PER_MEMBER_PER_HOUR',
        bucket: `starts:member:${command.actor.userId}`,
        max: limits.startsPerMemberPerHour,
        refusal: (max: number) =>
          `You have started ${max} round${max === 1 ? '' : 's'} this hour, the most allowed`,
      },
      {
        setting: 'LIMIT_STARTS_PER_WORKSPACE_PER_HOUR',
        bucket: 'starts:workspace',
        max: limits.startsPerWorkspacePerHour,
        refusal: (max: number) =>
          `This workspace has started ${max} round${max === 1 ? '' : 's'} this hour, the most allowed`,
      },
    ];
    for (const rate of rates) {
      if (rate.max <= 0) continue;
      const verdict = await store.limits.hit(
        command.scope,
        rate.bucket,
        { max: rate.max, windowSeconds: 3_600 },
        now,
      );
      if (verdict.allowed) continue;
      log.info(
        {
          scope: command.scope,
          userId: command.actor.userId,
          retryAfterSeconds: verdict.retryAfterSeconds,
        },
        `start refused: ${rate.setting}`,
      );
      throw new DomainError(
        'rate_limited',
        `${rate.refusal(rate.max)}; try again in ${describeWait(verdict.retryAfterSeconds)}.`,
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

  async close(target: RoundTarget, actor: Actor | null): Promise<Round> {
    const round = await this.resolve(target);
    this.requireModerator(round, actor, 'close');
    switch (round.phase) {
      case 'collecting':
      case 'failed':
        if (round.version === 0) return this.startRun(round, 1);
        return this.startRun(round, round.version + 1);
      case 'critiquing':
        return this.startRun(round, round.version + 1);
      case 'generating':
      case 'revising':
        throw new DomainError(
          'illegal_transition',
          `This round is already closed and ${describePhase(round.phase)}; the statement will follow.`,
        );
      case 'polling':
        throw new DomainError(
          'illegal_transition',
          'This round is polling members on its statement: use `finish` to end it, or `critique` to revise it.',
        );
      default:
        throw new DomainError('illegal_transition', `This round is ${describePhase(round.phase)}.`);
    }
  }

  /** Moves a round into a pipeline run for `version`; of two racing callers one wins. */
  private async startRun(round: Round, version: number): Promise<Round> {
    const { store, queues } = this.deps;
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
      if (r.phase === 'generating' || r.phase === 'revising') {
        throw new DomainError(
          'illegal_transition',
          `This round is already closed and ${describePhase(r.phase)}; the statement will follow.`,
        );
      }
      assertTransition(r.phase, target);
      return { ...r, phase: target, attempt: r.attempt + 1, deadline: null, failureReason: null };
    });
    // A revision closes the previous version's poll: its ratings must be in the matrix
    // before the new candidates are scored.
    if (version > 1) await this.recordRatings(moved, version - 1);
    const job = { scope: moved.scope, roundId: moved.id, version, attempt: moved.attempt };
    // Independent, so together: the pipeline need not wait for the progress message to be
    // queued, nor for the old deadline to go (one that fires meanwhile sees the round has
    // moved on and does nothing).
    await Promise.all([
      queues.cancelDeadline({ scope: moved.scope, roundId: moved.id, version: moved.version }),
      queues.enqueuePublish(
        { ...job, kind: 'progress', text: null },
        `progress-v${version}-a${moved.attempt}-started`,
      ),
      queues.enqueueStage('generate', job),
    ]);
    this.deps.log.info(
      { roundId: moved.id, version, attempt: moved.attempt },
      'pipeline run started',
    );
    return moved;
  }

  async critique(target: RoundTarget, actor: Actor | null): Promise<Round> {
    const round = await this.resolve(target);
    this.requireModerator(round, actor, 'start a critique of');
    const minutes = round.settings.minutes;
    const deadline = minutes === null ? null : this.deps.now() + minutes * 60_000;
    const moved = await this.deps.store.rounds.update(round.scope, round.id, (r) => {
      assertTransition(r.phase, 'critiquing');
      return { ...r, phase: 'critiquing', deadline };
    });
    await this.deps.queues.enqueuePublish(
      {
        scope: moved.scope,
        roundId: moved.id,
        kind: 'critique-invite',
        version: moved.version,
        text: null,
      },
      `critique-v${moved.version}`,
    );
    if (deadline !== null) await this.scheduleDeadline(moved, 'critiquing', deadline);
    return moved;
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

  async finish(target: RoundTarget, actor: Actor | null): Promise<ResultsView> {
    const round = await this.resolve(target);
    this.requireModerator(round, actor, 'finish');
    const moved = await this.deps.store.rounds.update(round.scope, round.id, (r) => {
      if (r.phase === 'failed' && r.version === 0) {
        throw new DomainError(
          'illegal_transition',
          'No statement was put to a vote yet, so there is nothing to finish: retry with `close`, or `cancel` the round.',
        );
      }
      assertTransition(r.phase, 'closed');
      return { ...r, phase: 'closed', deadline: null };
    });
    await this.deps.queues.cancelDeadline({
      scope: moved.scope,
      roundId: moved.id,
      version: moved.version,
    });
    const poll = await this.deps.store.polls.poll(moved.scope, moved.id, moved.version);
    if (poll && poll.closedAt === null) {
      await this.deps.store.polls.savePoll(moved.scope, { ...poll, closedAt: this.deps.now() });
    }
    await this.recordRatings(moved, moved.version);
    await this.deps.queues.enqueuePublish(
      {
        scope: moved.scope,
        roundId: moved.id,
        kind: 'results',
        version: moved.version,
        text: null,
      },
      'results',
    );
    return this.results(moved);
  }

  async cancel(target: RoundTarget, actor: Actor | null): Promise<Round> {
    const round = await this.resolve(target);
    this.requireModerator(round, actor, 'cancel');
    const moved = await this.deps.store.rounds.update(round.scope, round.id, (r) => {
      assertTransition(r.phase, 'cancelled');
      return { ...r, phase: 'cancelled', deadline: null };
    });
    await this.deps.queues.cancelDeadline({
      scope: moved.scope,
      roundId: moved.id,
      version: moved.version,
    });
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
    const { store } = this.deps;
    const [opinions, critiques, poll, usage] = await Promise.all([
      store.contributions.list(round.scope, round.id, 'opinion', 0),
      round.version > 0
        ? store.contributions.list(round.scope, round.id, 'critique', round.version)
        : Promise.resolve([]),
      store.polls.poll(round.scope, round.id, round.version),
      store.usage.byStage(round.scope, round.id),
    ]);
    const ratings = poll ? await store.polls.ratings(round.scope, poll) : [];
    return {
      ...headerOf(round),
      phase: round.phase,
      phaseText: describePhase(round.phase),
      opinions: opinions.length,
      critiques: critiques.length,
      version: round.version,
      ratings: ratings.length,
      deadline: round.deadline,
      failureReason: round.failureReason,
      usage,
    };
  }

  /** Results of every posted version so far (the round need not be finished). */
  async results(targetOrRound: RoundTarget | Round): Promise<ResultsView> {
    const round =
      'phase' in targetOrRound ? targetOrRound : await this.resolve(targetOrRound, true);
    const { store } = this.deps;
    // A cancelled round never finishes, so what it hid stays hidden.
    const hidden = round.settings.hidden && round.phase !== 'closed';
    const versions: VersionResults[] = [];
    let model: string | null = null;
    for (let v = 1; v <= round.version; v++) {
      const poll = await store.polls.poll(round.scope, round.id, v);
      if (!poll) continue;
      const ratings = await store.polls.ratings(round.scope, poll);
      const scores = await store.polls.scores(round.scope, round.id, v);
      model = scores?.model ?? model;
      const results = pollResults({
        scale: poll.scale,
        ratings,
        predicted: poll.predicted,
        welfare: round.settings.welfare,
      });
      versions.push({
        version: v,
        statement: poll.statement,
        results: hidden ? concealed(results) : results,
        endorsement: hidden ? null : endorsement(results, round.settings.minTurnout),
      });
    }
    const opinions = await store.contributions.list(round.scope, round.id, 'opinion', 0);
    const exclusion = await this.exclusionCheck(round, opinions);
    const withoutOpinion = await this.critiquedWithoutOpinion(round, opinions);
    const anonymous = round.settings.anonymous;
    return {
      ...headerOf(round),
      phase: round.phase,
      hidden,
      anonymous,
      exclusion: anonymous
        ? { ...exclusion, truncated: exclusion.truncated.map(() => '') }
        : exclusion,
      versions: anonymous
        ? versions.map((v) => ({ ...v, results: withoutNames(v.results) }))
        : versions,
      model,
      participants: opinions.length,
      critiquedWithoutOpinion: anonymous ? withoutOpinion.map(() => '') : withoutOpinion,
      usage: await store.usage.byStage(round.scope, round.id),
    };
  }

  /** Members who critiqued some version of the statement but never gave an opinion. */
  private async critiquedWithoutOpinion(
    round: Round,
    opinions: readonly { participantId: string }[],
  ): Promise<string[]> {
    const gave = new Set(opinions.map((o) => o.participantId));
    const only = new Set<string>();
    for (let v = 1; v <= round.version; v++) {
      const critiques = await this.deps.store.contributions.list(
        round.scope,
        round.id,
        'critique',
        v,
      );
      for (const c of critiques) if (!gave.has(c.participantId)) only.add(c.participantId);
    }
    return [...only].sort();
  }

  /**
   * What did not reach the statement writer whole: opinions and critiques cut to the
   * length limit (read as the pipeline reads them), and versions written from summaries.
   */
  private async exclusionCheck(
    round: Round,
    opinions: readonly { participantId: string; truncated: boolean }[],
  ): Promise<ExclusionCheck> {
    const { store } = this.deps;
    const truncated = new Set(opinions.filter((o) => o.truncated).map((o) => o.participantId));
    const summarisedVersions: number[] = [];
    for (let v = 1; v <= round.version; v++) {
      // A revision reads the critiques of the version before it.
      if (v > 1) {
        const critiques = await store.contributions.list(round.scope, round.id, 'critique', v - 1);
        for (const c of critiques) if (c.truncated) truncated.add(c.participantId);
      }
      const set = await store.polls.candidates(round.scope, round.id, v);
      if (set?.notes.some(isSummaryNote)) summarisedVersions.push(v);
    }
    return { truncated: [...truncated].sort(), summarisedVersions };
  }

  /** Everything about a round, for `/consensus export` (JSON). */
  async export(target: RoundTarget): Promise<RoundExport> {
    return this.exportOf(await this.resolve(target, true));
  }

  /**
   * A round of the workspace by id, whatever its channel: for operators' tools
   * (`npm run export`), never for a platform command, which must go through `export`.
   */
  async exportById(scope: Scope, roundId: string): Promise<RoundExport> {
    return this.exportOf(await this.deps.store.rounds.require(scope, roundId));
  }

  private async exportOf(round: Round): Promise<RoundExport> {
    const { store } = this.deps;
    const opinions = await store.contributions.list(round.scope, round.id, 'opinion', 0);
    // Anyone may export, so a hidden round's ratings wait for the finish here too.
    const hidden = round.settings.hidden && round.phase !== 'closed';
    const versions: RoundExport['versions'] = [];
    for (let v = 1; v <= round.version; v++) {
      const [set, scores, poll] = await Promise.all([
        store.polls.candidates(round.scope, round.id, v),
        store.polls.scores(round.scope, round.id, v),
        store.polls.poll(round.scope, round.id, v),
      ]);
      const critiques = await store.contributions.list(round.scope, round.id, 'critique', v);
      versions.push({
        version: v,
        candidates: set?.candidates ?? [],
        predicted: scores?.matrix ?? null,
        model: scores?.model ?? null,
        poll,
        ratings: poll && !hidden ? await store.polls.ratings(round.scope, poll) : [],
        critiques,
      });
    }
    const usage = await store.usage.byStage(round.scope, round.id);
    if (round.settings.anonymous) return anonymousExport({ round, opinions, versions, usage });
    return { round, opinions, versions, usage };
  }

  // ---- events from the thread --------------------------------------------------------

  /** A new or edited reply in a round's thread: an opinion while collecting, a critique while critiquing. */
  async reply(event: ReplyEvent): Promise<ReplyOutcome> {
    // Chatter in threads that are no round's costs one read, and leaves nothing behind.
    if (
      !(await this.isRoundMessage(event.scope, event.channelId, event.threadRootId, 'question'))
    ) {
      return IGNORED;
    }
    if (!(await this.firstDelivery(event))) return { ...IGNORED, status: 'duplicate' };
    return this.forgetOnFailure(event, () => this.applyReply(event));
  }

  private async applyReply(event: ReplyEvent): Promise<ReplyOutcome> {
    const { store } = this.deps;
    const role = await store.messages.lookup(event.scope, event.channelId, event.threadRootId);
    if (role?.kind !== 'question') return IGNORED;
    const round = await store.rounds.get(event.scope, role.roundId);
    if (!round) return IGNORED;
    const location = await store.contributions.locate(event.scope, round.id, event.messageId);
    // A late event for a deleted message (platforms deliver out of order) changes nothing.
    if (location === 'deleted') return { ...IGNORED, roundId: round.id };
    const open = openSlot(round);
    // An edit stays what its message was when first written: an opinion edited during the
    // critique phase is not a critique, and an edit after its phase closed is not counted.
    const slot = location ?? open;
    if (!slot) {
      return {
        status: 'ignored',
        kind: null,
        roundId: round.id,
        notice: `This round is ${describePhase(round.phase)}; replies are not counted now.`,
      };
    }
    if (open === null || slot.kind !== open.kind || slot.version !== open.version) {
      return {
        status: 'ignored',
        kind: slot.kind,
        roundId: round.id,
        notice: `Your edit was not counted: ${slot.kind === 'opinion' ? 'opinions' : 'critiques of that version'} closed when the round moved on.`,
      };
    }
    const { kind, version } = slot;
    // Kept long enough to tell the member how long their reply was, never unbounded.
    const text = clip(event.text.trim(), LIMITS.replyMaxChars);
    if (text.length === 0) {
      // An empty reply (or an edit to nothing) empties what that message said.
      await store.contributions.clear(event.scope, round.id, kind, version, event.messageId);
      return { status: 'removed', kind, roundId: round.id, notice: null };
    }
    const outcome = await store.contributions.upsert(
      event.scope,
      round.id,
      kind,
      version,
      event.userId,
      { messageId: event.messageId, text, at: event.at },
      event.revision ?? event.at,
    );
    if (outcome !== 'added' && outcome !== 'edited') return { ...IGNORED, roundId: round.id };
    const joined = await store.contributions.get(
      event.scope,
      round.id,
      kind,
      version,
      event.userId,
    );
    const limit = kind === 'opinion' ? LIMITS.opinionMaxChars : LIMITS.critiqueMaxChars;
    // The stored reply may itself be clipped: count what the member actually wrote.
    const written = joined ? joined.originalLength - text.length + event.text.trim().length : 0;
    const notice = joined?.truncated
      ? `Your ${kind} is ${written} characters; only the first ${limit} are used.`
      : null;
    return { status: outcome === 'added' ? 'recorded' : 'edited', kind, roundId: round.id, notice };
  }

  /** A reply was deleted: it no longer counts, in any phase, and a late event cannot revive it. */
  async removeReply(event: Omit<ReplyEvent, 'text' | 'userId' | 'at'>): Promise<ReplyOutcome> {
    const { store } = this.deps;
    const role = await store.messages.lookup(event.scope, event.channelId, event.threadRootId);
    if (role?.kind !== 'question') return IGNORED;
    const round = await store.rounds.get(event.scope, role.roundId);
    if (!round) return IGNORED;
    const slot = await store.contributions.remove(event.scope, round.id, event.messageId);
    if (!slot) return { ...IGNORED, roundId: round.id };
    return { status: 'removed', kind: slot.kind, roundId: round.id, notice: null };
  }

  /** A reaction on a statement; adapters drop the bot's own reactions before calling. */
  async react(event: ReactionEvent): Promise<RatingOutcome> {
    if (!(await this.isRoundMessage(event.scope, event.channelId, event.messageId, 'statement'))) {
      return { status: 'ignored', roundId: null };
    }
    if (!(await this.firstDelivery(event))) return { status: 'duplicate', roundId: null };
    return this.forgetOnFailure(event, () => this.applyReaction(event));
  }

  private async isRoundMessage(
    scope: Scope,
    channelId: string,
    messageId: string,
    kind: 'question' | 'statement',
  ): Promise<boolean> {
    const role = await this.deps.store.messages.lookup(scope, channelId, messageId);
    return role?.kind === kind;
  }

  /** False for an event id already handled (platforms redeliver what they think was lost). */
  private async firstDelivery(event: { scope: Scope; eventId?: string | null }): Promise<boolean> {
    return !event.eventId || this.deps.store.events.firstSeen(event.scope, event.eventId);
  }

  /**
   * An event that failed for a transient reason (Redis hiccup, a bug) is forgotten, so the
   * platform's redelivery is handled instead of being dropped as a duplicate. A rule's
   * refusal (DomainError) is a final answer and stays remembered.
   */
  private async forgetOnFailure<T>(
    event: { scope: Scope; eventId?: string | null },
    apply: () => Promise<T>,
  ): Promise<T> {
    try {
      return await apply();
    } catch (error) {
      if (event.eventId && !(error instanceof DomainError)) {
        await this.deps.store.events.forget(event.scope, event.eventId).catch(() => undefined);
      }
      throw error;
    }
  }

  private async applyReaction(event: ReactionEvent): Promise<RatingOutcome> {
    const { store } = this.deps;
    const role = await store.messages.lookup(event.scope, event.channelId, event.messageId);
    if (role?.kind !== 'statement') return { status: 'ignored', roundId: null };
    const round = await store.rounds.get(event.scope, role.roundId);
    if (!round) return { status: 'ignored', roundId: null };
    const poll = await store.polls.poll(event.scope, round.id, role.version);
    if (!poll) return { status: 'ignored', roundId: round.id };
    if (!pollOptions(poll.scale).some((o) => o.key === event.optionKey)) {
      return { status: 'ignored', roundId: round.id };
    }
    // Reactions show who chose what and the tally, so anonymous and hidden rounds count
    // only their buttons.
    if (ratesWithButtons(round.settings) !== (event.source === 'button')) {
      return { status: 'ignored', roundId: round.id };
    }
    const open =
      poll.closedAt === null &&
      round.version === role.version &&
      (round.phase === 'polling' || round.phase === 'critiquing');
    if (!open) {
      throw new PollClosedError(round.questionRef);
    }
    const participantId = round.settings.anonymous ? pseudonym(round, event.userId) : event.userId;
    const variant = event.variant ?? event.optionKey;
    if (event.source === 'button') {
      // A click is the member's whole rating: other options they clicked before go.
      await store.polls.removeOtherReactions(
        event.scope,
        round.id,
        role.version,
        participantId,
        event.optionKey,
        event.at,
      );
    }
    if (event.removed) {
      await store.polls.removeReaction(
        event.scope,
        round.id,
        role.version,
        participantId,
        event.optionKey,
        event.at,
        variant,
      );
      return { status: 'removed', roundId: round.id };
    }
    await store.polls.addReaction(
      event.scope,
      round.id,
      role.version,
      participantId,
      event.optionKey,
      event.at,
      variant,
    );
    return { status: 'recorded', roundId: round.id };
  }

  // ---- catching up after the adapter was offline ------------------------------------------

  /**
   * The open rounds of these channels. Platforms do not redeliver what happened while no
   * connection was up, so an adapter reads its threads and polls again with this.
   */
  async openRounds(scope: Scope, channelIds: readonly string[]): Promise<OpenRoundState[]> {
    const { store } = this.deps;
    const rounds = (
      await Promise.all(channelIds.map((id) => store.rounds.openInChannel(scope, id)))
    ).flat();
    return Promise.all(
      rounds.map(async (round) => {
        const slot = openSlot(round);
        const reacting =
          !ratesWithButtons(round.settings) &&
          round.version > 0 &&
          (round.phase === 'polling' || round.phase === 'critiquing');
        return {
          round,
          replies: slot && {
            ...slot,
            messageIds: await store.contributions.messageIds(
              scope,
              round.id,
              slot.kind,
              slot.version,
            ),
            since:
              slot.kind === 'opinion'
                ? (round.questionRef?.messageId ?? null)
                : ((await store.messages.slot(scope, round.id, `critique:${slot.version}`))
                    ?.messageId ?? null),
          },
          statement: reacting
            ? await store.messages.slot(scope, round.id, `statement:${round.version}`)
            : null,
        };
      }),
    );
  }

  /**
   * The reactions stored on a statement, or null unless its poll is open and counts
   * reactions (as in applyReaction): an adapter compares them with the platform's when
   * reactions were removed in bulk or while it was offline.
   */
  async pollReactions(
    scope: Scope,
    channelId: string,
    messageId: string,
  ): Promise<PollReactions | null> {
    const { store } = this.deps;
    const role = await store.messages.lookup(scope, channelId, messageId);
    if (role?.kind !== 'statement') return null;
    const round = await store.rounds.get(scope, role.roundId);
    if (!round || ratesWithButtons(round.settings)) return null;
    const poll = await store.polls.poll(scope, round.id, role.version);
    const open =
      poll !== null &&
      poll.closedAt === null &&
      round.version === role.version &&
      (round.phase === 'polling' || round.phase === 'critiquing');
    if (!open) return null;
    const reactions = await store.polls.reactions(scope, round.id, role.version);
    return {
      roundId: round.id,
      version: role.version,
      reactions: reactions.map((r) => ({
        userId: r.participantId,
        optionKey: r.optionKey,
        variant: r.variant,
      })),
    };
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
    if (!round || round.phase !== job.phase || round.version !== job.version) return;
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
      if (job.phase !== 'polling') await this.close(target, null);
      else if (await this.belowReviseThreshold(round)) await this.critique(target, null);
      else await this.finish(target, null);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      // Not enough opinions or critiques at the deadline: say so; the round stays open,
      // until a moderator closes it (status must not show a deadline in the past).
      await this.deps.store.rounds.update(round.scope, round.id, (r) =>
        r.phase === job.phase && r.version === job.version ? { ...r, deadline: null } : r,
      );
      await this.deps.queues.enqueuePublish(
        {
          scope: round.scope,
          roundId: round.id,
          kind: 'notice',
          version: round.version,
          text: error.message,
        },
        `deadline-${job.phase}-v${job.version}-${round.deadline ?? 0}`,
      );
    }
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
    const ratings = await this.deps.store.polls.ratings(round.scope, poll);
    const { meanApproval } = pollResults({
      scale: poll.scale,
      ratings,
      predicted: poll.predicted,
      welfare: round.settings.welfare,
    });
    return meanApproval !== null && meanApproval * 100 < threshold;
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

  /**
   * The reminder for `version`'s poll: the members who gave an opinion and have not rated
   * it yet, or null when there is nobody to remind (or the poll is over).
   */
  async reminderView(round: Round, version: number): Promise<NoticeView | null> {
    const { store } = this.deps;
    if (round.phase !== 'polling' || round.version !== version) return null;
    const poll = await store.polls.poll(round.scope, round.id, version);
    if (!poll) return null;
    const [opinions, ratings] = await Promise.all([
      store.contributions.list(round.scope, round.id, 'opinion', 0),
      store.polls.ratings(round.scope, poll),
    ]);
    const rated = new Set(ratings.map((r) => r.participantId));
    // An anonymous round's ratings are under pseudonyms: match authors by theirs.
    const ratingId = (id: string) => (round.settings.anonymous ? pseudonym(round, id) : id);
    const missing = [...new Set(opinions.map((o) => o.participantId))]
      .filter((id) => !rated.has(ratingId(id)))
      .sort();
    if (missing.length === 0) return null;
    const deadline = round.deadline === null ? '' : ' before the poll closes';
    if (round.settings.anonymous) {
      // Naming who has not rated would tell who has: the count only.
      return {
        ...headerOf(round),
        text:
          `Reminder: ${missing.length} member${missing.length === 1 ? '' : 's'} who gave an opinion ` +
          `${missing.length === 1 ? 'has' : 'have'} not rated the statement yet. Use its buttons${deadline}; ratings are anonymous.`,
      };
    }
    return {
      ...headerOf(round),
      text:
        `Reminder: ${missing.map((id) => `<@${id}>`).join(', ')}, you gave an opinion but have not ` +
        `rated the statement yet. ${ratesWithButtons(round.settings) ? 'Use its buttons' : 'React on it'}${deadline}: your rating decides whether it stands.`,
      mentions: missing,
    };
  }

  async statementView(round: Round, version: number): Promise<StatementView> {
    const { store } = this.deps;
    const [poll, set, scores] = await Promise.all([
      store.polls.poll(round.scope, round.id, version),
      store.polls.candidates(round.scope, round.id, version),
      store.polls.scores(round.scope, round.id, version),
    ]);
    if (!poll || !set || !scores) throw new Error(`round ${round.id} has no statement v${version}`);
    // The seed the pipeline chose with, so ties are listed in the order they were broken.
    const selection = selectConsensus(
      scores.matrix,
      round.settings.welfare,
      poll.selectionSeed ?? round.seed,
    );
    const byId = new Map<string, Candidate>(set.candidates.map((c) => [c.id, c]));
    return {
      ...headerOf(round),
      version,
      statement: poll.statement,
      options: pollOptions(poll.scale),
      method: poll.method,
      anonymous: round.settings.anonymous,
      buttons: ratesWithButtons(round.settings),
      predicted: round.settings.anonymous
        ? []
        : Object.entries(poll.predicted)
            .map(([participantId, approval]) => ({ participantId, approval }))
            .sort((a, b) => (b.approval ?? -1) - (a.approval ?? -1)),
      considered: selection.ranked.flatMap((r) => {
        const candidate = byId.get(r.candidateId);
        return candidate ? [{ candidate, welfare: r.welfare, mean: r.mean }] : [];
      }),
      model: scores.model,
      notes: set.notes,
    };
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
        'There is no open round in this channel. Start one with `start <question>`.',
      );
    }
    if (open.length > 1) {
      throw new DomainError(
        'invalid_input',
        `This channel has ${open.length} open rounds (${open.map((r) => r.id).join(', ')}); name one.`,
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

export interface RoundExport {
  round: Round;
  opinions: { participantId: string; text: string; truncated: boolean }[];
  versions: {
    version: number;
    candidates: Candidate[];
    predicted: {
      participants: string[];
      candidates: string[];
      approvals: (number | null)[][];
    } | null;
    model: string | null;
    poll: import('../domain/rating.js').Poll | null;
    ratings: import('../domain/rating.js').Rating[];
    critiques: { participantId: string; text: string }[];
  }[];
  usage: Record<string, { calls: number; promptTokens: number; completionTokens: number }>;
}

/**
 * A rating's participant id in an anonymous round: stable per member and round (one
 * rating each, changeable), but not their platform id.
 */
function pseudonym(round: Round, userId: string): string {
  const digest = createHmac('sha256', `${round.id}:${round.seed}`).update(userId).digest('hex');
  return `anon-${digest.slice(0, 16)}`;
}

/** The results with every member id blanked: an anonymous round names nobody. */
function withoutNames(results: PollResults): PollResults {
  const blank = (l: LeastServed | null) =>
    l && { ...l, participantIds: l.participantIds.map(() => '') };
  return {
    ...results,
    leastServed: blank(results.leastServed),
    predictedLeastServed: blank(results.predictedLeastServed),
  };
}

/**
 * An anonymous round's export: members of the opinions are numbered (`member-1` …) in
 * the order they wrote, raters apart (`rater-1` …), so neither a platform id nor the
 * link between an opinion and a rating leaves the bot.
 */
function anonymousExport(data: RoundExport): RoundExport {
  // Numbered in the order they wrote: opinion authors, then members who only critiqued,
  // then anyone else the predictions name. Every id gets its own label.
  const labels = new Map<string, string>();
  const ids = [
    ...data.opinions.map((o) => o.participantId),
    ...data.versions.flatMap((v) => v.critiques.map((c) => c.participantId)),
    ...data.versions.flatMap((v) => v.predicted?.participants ?? []),
    ...data.versions.flatMap((v) => Object.keys(v.poll?.predicted ?? {})),
  ];
  for (const id of ids) if (!labels.has(id)) labels.set(id, `member-${labels.size + 1}`);
  const label = (id: string) => labels.get(id) ?? 'member';
  const raters = new Map<string, string>();
  const rater = (pseudonymId: string) => {
    const known = raters.get(pseudonymId);
    if (known) return known;
    const next = `rater-${raters.size + 1}`;
    raters.set(pseudonymId, next);
    return next;
  };
  // Generators explain a candidate by whose sentences it composes: those ids go too.
  // Longest ids first, so an id that contains another is replaced whole.
  const byLength = [...labels].sort((a, b) => b[0].length - a[0].length);
  const scrub = (text: string) => byLength.reduce((t, [id, name]) => t.split(id).join(name), text);
  return {
    ...data,
    round: { ...data.round, createdBy: 'moderator' },
    opinions: data.opinions.map((o) => ({ ...o, participantId: label(o.participantId) })),
    versions: data.versions.map((v) => ({
      ...v,
      candidates: v.candidates.map((c) => ({
        ...c,
        explanation: c.explanation === null ? null : scrub(c.explanation),
      })),
      predicted: v.predicted && {
        ...v.predicted,
        participants: v.predicted.participants.map(label),
      },
      poll: v.poll && {
        ...v.poll,
        method: scrub(v.poll.method),
        predicted: Object.fromEntries(
          Object.entries(v.poll.predicted).map(([id, u]) => [label(id), u]),
        ),
      },
      critiques: v.critiques.map((c) => ({ ...c, participantId: label(c.participantId) })),
      // The export carries the round's id and seed, the pseudonyms' key: raters are
      // numbered instead, or anyone with a member list could recompute who rated what.
      ratings: v.ratings.map((r) => ({ ...r, participantId: rater(r.participantId) })),
    })),
  };
}

export { isTerminal };
