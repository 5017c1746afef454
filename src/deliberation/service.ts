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
import { pollResults } from '../domain/results.js';
import {
  DEFAULT_SETTINGS,
  type MessageRef,
  QuestionSchema,
  type Round,
  type RoundSettings,
  RoundSettingsSchema,
} from '../domain/round.js';
import type { Scope } from '../domain/scope.js';
import { selectConsensus } from '../domain/selection.js';
import type { DeadlineJob } from '../pipeline/payloads.js';
import type { PipelineQueues } from '../pipeline/queues.js';
import type { ContributionKind } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { Actor } from './ports.js';
import {
  headerOf,
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
  at: number;
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
}

export interface RatingOutcome {
  status: 'recorded' | 'removed' | 'ignored' | 'duplicate';
  roundId: string | null;
}

const IGNORED: ReplyOutcome = { status: 'ignored', kind: null, roundId: null, notice: null };

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
      const opinions = await store.contributions.list(round.scope, round.id, 'opinion', 0);
      if (opinions.length < LIMITS.minOpinionsToClose) {
        throw new DomainError(
          'not_enough_opinions',
          `This round has ${opinions.length} opinion${opinions.length === 1 ? '' : 's'}; ` +
            `it needs at least ${LIMITS.minOpinionsToClose} to find common ground. It stays open: reply in its thread.`,
        );
      }
    } else {
      const critiques = await store.contributions.list(
        round.scope,
        round.id,
        'critique',
        version - 1,
      );
      if (critiques.length === 0 && round.phase === 'critiquing') {
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
    await queues.cancelDeadline({ scope: moved.scope, roundId: moved.id });
    // A revision closes the previous version's poll: its ratings must be in the matrix
    // before the new candidates are scored.
    if (version > 1) await this.recordRatings(moved, version - 1);
    const job = { scope: moved.scope, roundId: moved.id, version, attempt: moved.attempt };
    await queues.enqueuePublish(
      { ...job, kind: 'progress', text: null },
      `progress-v${version}-a${moved.attempt}-started`,
    );
    await queues.enqueueStage('generate', job);
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

  async finish(target: RoundTarget, actor: Actor | null): Promise<ResultsView> {
    const round = await this.resolve(target);
    this.requireModerator(round, actor, 'finish');
    const moved = await this.deps.store.rounds.update(round.scope, round.id, (r) => {
      assertTransition(r.phase, 'closed');
      return { ...r, phase: 'closed', deadline: null };
    });
    await this.deps.queues.cancelDeadline({ scope: moved.scope, roundId: moved.id });
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
    await this.deps.queues.cancelDeadline({ scope: moved.scope, roundId: moved.id });
    await this.deps.queues.enqueuePublish(
      {
        scope: moved.scope,
        roundId: moved.id,
        kind: 'notice',
        version: moved.version,
        text: `This round was cancelled by <@${actor?.userId ?? 'the bot'}>.`,
      },
      'cancelled',
    );
    return moved;
  }

  async status(target: RoundTarget): Promise<StatusView> {
    const round = await this.resolve(target);
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
    const round = 'phase' in targetOrRound ? targetOrRound : await this.resolve(targetOrRound);
    const { store } = this.deps;
    const versions: VersionResults[] = [];
    let model: string | null = null;
    for (let v = 1; v <= round.version; v++) {
      const poll = await store.polls.poll(round.scope, round.id, v);
      if (!poll) continue;
      const ratings = await store.polls.ratings(round.scope, poll);
      const scores = await store.polls.scores(round.scope, round.id, v);
      model = scores?.model ?? model;
      versions.push({
        version: v,
        statement: poll.statement,
        results: pollResults({
          scale: poll.scale,
          ratings,
          predicted: poll.predicted,
          welfare: round.settings.welfare,
        }),
      });
    }
    const opinions = await store.contributions.list(round.scope, round.id, 'opinion', 0);
    return {
      ...headerOf(round),
      phase: round.phase,
      versions,
      model,
      participants: opinions.length,
      usage: await store.usage.byStage(round.scope, round.id),
    };
  }

  /** Everything about a round, for `/consensus export` (JSON). */
  async export(target: RoundTarget): Promise<RoundExport> {
    const round = await this.resolve(target);
    const { store } = this.deps;
    const opinions = await store.contributions.list(round.scope, round.id, 'opinion', 0);
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
        ratings: poll ? await store.polls.ratings(round.scope, poll) : [],
        critiques,
      });
    }
    return { round, opinions, versions, usage: await store.usage.byStage(round.scope, round.id) };
  }

  // ---- events from the thread --------------------------------------------------------

  /** A new or edited reply in a round's thread: an opinion while collecting, a critique while critiquing. */
  async reply(event: ReplyEvent): Promise<ReplyOutcome> {
    if (!(await this.firstDelivery(event))) return { ...IGNORED, status: 'duplicate' };
    return this.forgetOnFailure(event, () => this.applyReply(event));
  }

  private async applyReply(event: ReplyEvent): Promise<ReplyOutcome> {
    const { store } = this.deps;
    const role = await store.messages.lookup(event.scope, event.channelId, event.threadRootId);
    if (role?.kind !== 'question') return IGNORED;
    const round = await store.rounds.get(event.scope, role.roundId);
    if (!round) return IGNORED;
    const kind: ContributionKind | null =
      round.phase === 'collecting' ? 'opinion' : round.phase === 'critiquing' ? 'critique' : null;
    if (!kind) {
      return {
        status: 'ignored',
        kind: null,
        roundId: round.id,
        notice: `This round is ${describePhase(round.phase)}; replies are not counted now.`,
      };
    }
    const version = kind === 'opinion' ? 0 : round.version;
    // Kept long enough to tell the member how long their reply was, never unbounded.
    const text = clip(event.text.trim(), LIMITS.replyMaxChars);
    if (text.length === 0) {
      // An empty reply (or an edit to nothing) removes what that message said.
      await store.contributions.remove(event.scope, round.id, kind, version, event.messageId);
      return { status: 'removed', kind, roundId: round.id, notice: null };
    }
    const outcome = await store.contributions.upsert(
      event.scope,
      round.id,
      kind,
      version,
      event.userId,
      {
        messageId: event.messageId,
        text,
        at: event.at,
      },
    );
    if (outcome === 'ignored') return { ...IGNORED, roundId: round.id };
    const joined = await store.contributions.get(
      event.scope,
      round.id,
      kind,
      version,
      event.userId,
    );
    const limit = kind === 'opinion' ? LIMITS.opinionMaxChars : LIMITS.critiqueMaxChars;
    const notice = joined?.truncated
      ? `Your ${kind} is ${joined.originalLength} characters; only the first ${limit} are used.`
      : null;
    return { status: outcome === 'added' ? 'recorded' : 'edited', kind, roundId: round.id, notice };
  }

  /** A reply was deleted: it no longer counts, in any phase. */
  async removeReply(event: Omit<ReplyEvent, 'text' | 'userId' | 'at'>): Promise<ReplyOutcome> {
    const { store } = this.deps;
    const role = await store.messages.lookup(event.scope, event.channelId, event.threadRootId);
    if (role?.kind !== 'question') return IGNORED;
    const round = await store.rounds.get(event.scope, role.roundId);
    if (!round) return IGNORED;
    const fromOpinion = await store.contributions.remove(
      event.scope,
      round.id,
      'opinion',
      0,
      event.messageId,
    );
    if (fromOpinion) return { status: 'removed', kind: 'opinion', roundId: round.id, notice: null };
    for (let v = round.version; v >= 1; v--) {
      if (await store.contributions.remove(event.scope, round.id, 'critique', v, event.messageId)) {
        return { status: 'removed', kind: 'critique', roundId: round.id, notice: null };
      }
    }
    return { ...IGNORED, roundId: round.id };
  }

  /** A reaction on a statement; adapters drop the bot's own reactions before calling. */
  async react(event: ReactionEvent): Promise<RatingOutcome> {
    if (!(await this.firstDelivery(event))) return { status: 'duplicate', roundId: null };
    return this.forgetOnFailure(event, () => this.applyReaction(event));
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
    const open =
      poll.closedAt === null &&
      round.version === role.version &&
      (round.phase === 'polling' || round.phase === 'critiquing');
    if (!open) {
      throw new DomainError('poll_closed', 'This poll is closed; your reaction was not counted.');
    }
    if (event.removed) {
      await store.polls.removeReaction(
        event.scope,
        round.id,
        role.version,
        event.userId,
        event.optionKey,
      );
      return { status: 'removed', roundId: round.id };
    }
    await store.polls.addReaction(
      event.scope,
      round.id,
      role.version,
      event.userId,
      event.optionKey,
      event.at,
    );
    return { status: 'recorded', roundId: round.id };
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
    try {
      const target = { scope: job.scope, channelId: round.channelId, roundId: round.id };
      if (job.phase === 'polling') await this.finish(target, null);
      else await this.close(target, null);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      // Not enough opinions or critiques at the deadline: say so; the round stays open.
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

  // ---- views the publisher renders --------------------------------------------------------

  async statementView(round: Round, version: number): Promise<StatementView> {
    const { store } = this.deps;
    const [poll, set, scores] = await Promise.all([
      store.polls.poll(round.scope, round.id, version),
      store.polls.candidates(round.scope, round.id, version),
      store.polls.scores(round.scope, round.id, version),
    ]);
    if (!poll || !set || !scores) throw new Error(`round ${round.id} has no statement v${version}`);
    const selection = selectConsensus(scores.matrix, round.settings.welfare, round.seed);
    const byId = new Map<string, Candidate>(set.candidates.map((c) => [c.id, c]));
    return {
      ...headerOf(round),
      version,
      statement: poll.statement,
      options: pollOptions(poll.scale),
      method: poll.method,
      predicted: Object.entries(poll.predicted)
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

  async resolve(target: RoundTarget): Promise<Round> {
    const { rounds } = this.deps.store;
    if (target.roundId) return rounds.require(target.scope, target.roundId);
    const open = await rounds.openInChannel(target.scope, target.channelId);
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

export { isTerminal };
