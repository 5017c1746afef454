/**
 * What members do in a round's threads and polls, as the platforms report it: replies
 * (opinions and critiques), their edits and deletions, and ratings by reaction or button;
 * and what an adapter rereads to catch up after it was offline. Platforms redeliver and
 * reorder events, so this is where duplicates are dropped and late events made harmless;
 * it writes only through the store it is given and starts no pipeline run.
 */
import { DomainError } from '../domain/errors.js';
import { clip, LIMITS } from '../domain/limits.js';
import { hasWords } from '../domain/opinion.js';
import { describePhase, isTerminal } from '../domain/phase.js';
import { pollOptions } from '../domain/poll-scale.js';
import type { Poll } from '../domain/rating.js';
import { type MessageRef, type Round, ratesWithButtons } from '../domain/round.js';
import type { Scope } from '../domain/scope.js';
import type { ReplyLocation, ReplySlot } from '../store/contributions.js';
import type { ContributionKind } from '../store/keys.js';
import type { Store } from '../store/store.js';
import { ratingIdOf } from './pseudonym.js';

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
  /** `addedAt`: the time the reaction was recorded with, which decides the latest one. */
  reactions: { userId: string; optionKey: string; variant: string; addedAt: number }[];
}

/**
 * A rating for a poll that is over. It carries the round's thread (its question's message),
 * so an adapter can answer the member there: a reaction event does not say where it is.
 */
export class PollClosedError extends DomainError {
  /**
   * `newer`: the version that replaced the rated one, while the round goes on; the member
   * is pointed to it rather than left thinking that rating is over.
   */
  constructor(
    readonly thread: MessageRef | null,
    source: ReactionEvent['source'] = 'reaction',
    newer: { rated: number; current: number } | null = null,
  ) {
    // Said to the member who rated: a click on a button is not a reaction.
    const what = source === 'button' ? 'click' : 'reaction';
    super(
      'poll_closed',
      newer
        ? `Version ${newer.rated} of this statement was replaced by version ${newer.current}, so your ${what} was not counted: rate version ${newer.current} in this thread.`
        : `This poll is closed; your ${what} was not counted.`,
    );
  }
}

const IGNORED: ReplyOutcome = { status: 'ignored', kind: null, roundId: null, notice: null };

/** The set a new reply goes to in the round's current phase, or null when none is open. */
function openSlot(round: Round): ReplySlot | null {
  if (round.phase === 'collecting') return { kind: 'opinion', version: 0 };
  if (round.phase === 'critiquing') return { kind: 'critique', version: round.version };
  return null;
}

/** A new or edited reply in a round's thread: an opinion while collecting, a critique while critiquing. */
export async function reply(store: Store, event: ReplyEvent): Promise<ReplyOutcome> {
  // Chatter in threads that are no round's costs one read, and leaves nothing behind.
  if (
    !(await isRoundMessage(store, event.scope, event.channelId, event.threadRootId, 'question'))
  ) {
    return IGNORED;
  }
  if (!(await firstDelivery(store, event))) return { ...IGNORED, status: 'duplicate' };
  return forgetOnFailure(store, event, () => applyReply(store, event));
}

async function applyReply(store: Store, event: ReplyEvent): Promise<ReplyOutcome> {
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
      notice: editClosed(slot.kind),
    };
  }
  const { kind, version } = slot;
  const trimmed = event.text.trim();
  if (!hasWords(trimmed)) {
    // An empty or wordless reply (or an edit to one) empties what that message said. Told
    // unless it was empty to begin with: mentions alone call someone and need no answer.
    const cleared = await store.contributions.clear(
      event.scope,
      round.id,
      kind,
      version,
      event.messageId,
    );
    if (cleared === 'closed') return closedMeanwhile(store, event, round, location, slot);
    const notice =
      trimmed === ''
        ? null
        : `Your reply has no words in it, so it does not count as ${kind === 'opinion' ? 'an opinion' : 'a critique'}.`;
    return { status: 'removed', kind, roundId: round.id, notice };
  }
  // Kept long enough to tell the member how long their reply was, never unbounded.
  const text = clip(trimmed, LIMITS.replyMaxChars);
  const outcome = await store.contributions.upsert(
    event.scope,
    round.id,
    kind,
    version,
    event.userId,
    { messageId: event.messageId, channelId: event.channelId, text, at: event.at },
    event.revision ?? event.at,
  );
  if (outcome === 'closed') return closedMeanwhile(store, event, round, location, slot);
  if (outcome === 'full') {
    return {
      status: 'ignored',
      kind,
      roundId: round.id,
      notice: `This reply was not counted: ${LIMITS.repliesPerMember} of your replies already make up your ${kind}, the most one member's can have. Edit one of them to change what it says.`,
    };
  }
  if (outcome !== 'added' && outcome !== 'edited') return { ...IGNORED, roundId: round.id };
  const joined = await store.contributions.get(event.scope, round.id, kind, version, event.userId);
  const limit = kind === 'opinion' ? LIMITS.opinionMaxChars : LIMITS.critiqueMaxChars;
  // The stored reply may itself be clipped: count what the member actually wrote.
  const written = joined ? joined.originalLength - text.length + event.text.trim().length : 0;
  const notice = joined?.truncated
    ? `Your ${kind} is ${written} characters; only the first ${limit} are used.`
    : null;
  return { status: outcome === 'added' ? 'recorded' : 'edited', kind, roundId: round.id, notice };
}

/**
 * A close moved the round on between applyReply's check and its write: said as if the
 * reply had come a moment later, which is what the generator saw.
 */
async function closedMeanwhile(
  store: Store,
  event: ReplyEvent,
  round: Round,
  location: ReplyLocation,
  slot: ReplySlot,
): Promise<ReplyOutcome> {
  const now = (await store.rounds.get(event.scope, round.id)) ?? round;
  return {
    status: 'ignored',
    kind: location ? slot.kind : null,
    roundId: round.id,
    notice: location
      ? editClosed(slot.kind)
      : `This round is ${describePhase(now.phase)}; replies are not counted now.`,
  };
}

/** Told to a member whose edit came after its set closed. */
function editClosed(kind: ContributionKind): string {
  return `Your edit was not counted: ${kind === 'opinion' ? 'opinions' : 'critiques of that version'} closed when the round moved on.`;
}

/** A reply was deleted: it no longer counts, in any phase, and a late event cannot revive it. */
export async function removeReply(
  store: Store,
  event: Omit<ReplyEvent, 'text' | 'userId' | 'at'>,
): Promise<ReplyOutcome> {
  const role = await store.messages.lookup(event.scope, event.channelId, event.threadRootId);
  if (role?.kind !== 'question') return IGNORED;
  return removeFromRound(
    store,
    event.scope,
    await store.rounds.get(event.scope, role.roundId),
    event.messageId,
  );
}

/**
 * A reply was deleted, but the platform did not say in which thread (Slack omits
 * previous_message at times). The round it was stored in is looked up by its channel and
 * id, and it is removed there whatever that round's phase, as removeReply would. A reply
 * stored by an earlier version, which did not record its round, is found among the
 * channel's open rounds; those are asked in any case, so a deletion handled before its
 * reply (no round recorded yet) still keeps a late copy out. A message id names one
 * message within a channel, so marking it deleted in a round that never held it changes
 * nothing there.
 */
export async function removeReplyInChannel(
  store: Store,
  event: Pick<ReplyEvent, 'scope' | 'channelId' | 'messageId'>,
): Promise<ReplyOutcome> {
  const recorded = await store.contributions.roundOf(event.scope, event.channelId, event.messageId);
  const round = recorded === null ? null : await store.rounds.get(event.scope, recorded);
  let outcome = await removeFromRound(store, event.scope, round, event.messageId);
  for (const open of await store.rounds.openInChannel(event.scope, event.channelId)) {
    if (open.id === recorded) continue;
    const removed = await removeFromRound(store, event.scope, open, event.messageId);
    if (removed.status === 'removed' && outcome.status !== 'removed') outcome = removed;
  }
  return outcome;
}

/** Removes a deleted reply from its round, in any phase, and remembers it as deleted. */
async function removeFromRound(
  store: Store,
  scope: Scope,
  round: Round | null,
  messageId: string,
): Promise<ReplyOutcome> {
  if (!round) return IGNORED;
  const slot = await store.contributions.remove(scope, round.id, messageId);
  if (!slot) return { ...IGNORED, roundId: round.id };
  return { status: 'removed', kind: slot.kind, roundId: round.id, notice: null };
}

/** A rating as stored, with the round and poll it went to, for what follows from it. */
export interface RatedPoll {
  outcome: RatingOutcome;
  /** Set when the rating was recorded or removed. */
  rated: { round: Round; poll: Poll } | null;
}

/**
 * A reaction on a statement (adapters drop the bot's own reactions before calling), with
 * the round and poll it went to, which the service checks `--revise-below` on.
 */
export async function reactOnPoll(store: Store, event: ReactionEvent): Promise<RatedPoll> {
  if (!(await isRoundMessage(store, event.scope, event.channelId, event.messageId, 'statement'))) {
    return { outcome: { status: 'ignored', roundId: null }, rated: null };
  }
  if (!(await firstDelivery(store, event))) {
    return { outcome: { status: 'duplicate', roundId: null }, rated: null };
  }
  return forgetOnFailure(store, event, () => applyReaction(store, event));
}

async function isRoundMessage(
  store: Store,
  scope: Scope,
  channelId: string,
  messageId: string,
  kind: 'question' | 'statement',
): Promise<boolean> {
  const role = await store.messages.lookup(scope, channelId, messageId);
  return role?.kind === kind;
}

/** False for an event id already handled (platforms redeliver what they think was lost). */
async function firstDelivery(
  store: Store,
  event: { scope: Scope; eventId?: string | null },
): Promise<boolean> {
  return !event.eventId || store.events.firstSeen(event.scope, event.eventId);
}

/**
 * An event that failed for a transient reason (Redis hiccup, a bug) is forgotten, so the
 * platform's redelivery is handled instead of being dropped as a duplicate. A rule's
 * refusal (DomainError) is a final answer and stays remembered.
 */
async function forgetOnFailure<T>(
  store: Store,
  event: { scope: Scope; eventId?: string | null },
  apply: () => Promise<T>,
): Promise<T> {
  try {
    return await apply();
  } catch (error) {
    if (event.eventId && !(error instanceof DomainError)) {
      await store.events.forget(event.scope, event.eventId).catch(() => undefined);
    }
    throw error;
  }
}

async function applyReaction(store: Store, event: ReactionEvent): Promise<RatedPoll> {
  const ignored = (roundId: string | null): RatedPoll => ({
    outcome: { status: 'ignored', roundId },
    rated: null,
  });
  const role = await store.messages.lookup(event.scope, event.channelId, event.messageId);
  if (role?.kind !== 'statement') return ignored(null);
  const round = await store.rounds.get(event.scope, role.roundId);
  if (!round) return ignored(null);
  const poll = await store.polls.poll(event.scope, round.id, role.version);
  if (!poll) return ignored(round.id);
  if (!pollOptions(poll.scale).some((o) => o.key === event.optionKey)) return ignored(round.id);
  // Reactions show who chose what and the tally, so anonymous and hidden rounds count
  // only their buttons.
  if (ratesWithButtons(round.settings) !== (event.source === 'button')) return ignored(round.id);
  const open =
    poll.closedAt === null &&
    round.version === role.version &&
    (round.phase === 'polling' || round.phase === 'critiquing');
  if (!open) {
    const replaced = round.version > role.version && !isTerminal(round.phase);
    throw new PollClosedError(
      round.questionRef,
      event.source,
      replaced ? { rated: role.version, current: round.version } : null,
    );
  }
  const participantId = ratingIdOf(round, event.userId);
  const variant = event.variant ?? event.optionKey;
  const { polls } = store;
  // The rating's poll, member, option and time, as every write below takes them.
  const which = [
    event.scope,
    round.id,
    role.version,
    participantId,
    event.optionKey,
    event.at,
  ] as const;
  const counted =
    event.source === 'button' && !event.removed
      ? // A click is the member's whole rating: other options they clicked before go.
        await polls.choose(
          ...which,
          pollOptions(poll.scale).map((o) => o.key),
        )
      : event.removed
        ? await polls.removeReaction(...which, variant)
        : await polls.addReaction(...which, variant);
  // The round moved past the poll after the check above (a finish racing this rating).
  if (!counted) throw new PollClosedError(round.questionRef, event.source);
  return {
    outcome: { status: event.removed ? 'removed' : 'recorded', roundId: round.id },
    rated: { round, poll },
  };
}

// ---- catching up after the adapter was offline ------------------------------------------

/**
 * The open rounds of these channels. Platforms do not redeliver what happened while no
 * connection was up, so an adapter reads its threads and polls again with this.
 */
export async function openRounds(
  store: Store,
  scope: Scope,
  channelIds: readonly string[],
): Promise<OpenRoundState[]> {
  const rounds = (
    await Promise.all(channelIds.map((id) => store.rounds.openInChannel(scope, id)))
  ).flat();
  return Promise.all(rounds.map((round) => openRoundState(store, scope, round)));
}

/**
 * The open rounds among the workspace's `limit` most recently started, newest first: for
 * an adapter that cannot list its channels cheaply (Slack), so the read stays bounded.
 */
export async function recentOpenRounds(
  store: Store,
  scope: Scope,
  limit: number,
): Promise<OpenRoundState[]> {
  const rounds = (await store.rounds.recent(scope, limit)).filter((r) => !isTerminal(r.phase));
  return Promise.all(rounds.map((round) => openRoundState(store, scope, round)));
}

async function openRoundState(store: Store, scope: Scope, round: Round): Promise<OpenRoundState> {
  const slot = openSlot(round);
  const reacting =
    !ratesWithButtons(round.settings) &&
    round.version > 0 &&
    (round.phase === 'polling' || round.phase === 'critiquing');
  return {
    round,
    replies: slot && {
      ...slot,
      messageIds: await store.contributions.messageIds(scope, round.id, slot.kind, slot.version),
      since:
        slot.kind === 'opinion'
          ? (round.questionRef?.messageId ?? null)
          : ((await store.messages.slot(scope, round.id, `critique:${slot.version}`))?.messageId ??
            null),
    },
    statement: reacting
      ? await store.messages.slot(scope, round.id, `statement:${round.version}`)
      : null,
  };
}

/**
 * The reactions stored on a statement, or null unless its poll is open and counts
 * reactions (as in applyReaction): an adapter compares them with the platform's when
 * reactions were removed in bulk or while it was offline.
 */
export async function pollReactions(
  store: Store,
  scope: Scope,
  channelId: string,
  messageId: string,
): Promise<PollReactions | null> {
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
      addedAt: r.addedAt,
    })),
  };
}
