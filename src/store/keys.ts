import { type Scope, scopeKey } from '../domain/scope.js';

/**
 * Every key lives under `<root>:<platform>.<workspace>:` so tenants sharing one Redis
 * cannot read each other's data, and a test or deployment can own a whole root.
 */
export class Keys {
  constructor(private readonly root: string) {}

  /** Rounds per phase across all tenants, for metrics (no tenant data in it). */
  phaseCounts(): string {
    return `${this.root}:stats:phases`;
  }
  tenant(scope: Scope): string {
    return `${this.root}:${scopeKey(scope)}`;
  }
  round(scope: Scope, roundId: string): string {
    return `${this.tenant(scope)}:round:${roundId}`;
  }
  rounds(scope: Scope): string {
    return `${this.tenant(scope)}:rounds`;
  }
  openInChannel(scope: Scope, channelId: string): string {
    return `${this.tenant(scope)}:channel:${channelId}:open`;
  }
  /** Every round of a channel by creation time (the latest one answers read-only commands). */
  channelRounds(scope: Scope, channelId: string): string {
    return `${this.tenant(scope)}:channel:${channelId}:rounds`;
  }
  contributions(scope: Scope, roundId: string, kind: ContributionKind, version: number): string {
    return `${this.round(scope, roundId)}:${kind}:${version}`;
  }
  /** Per member of one contribution set: the ids of the messages they wrote in it. */
  contributionsByMember(
    scope: Scope,
    roundId: string,
    kind: ContributionKind,
    version: number,
  ): string {
    return `${this.contributions(scope, roundId, kind, version)}:by-member`;
  }
  /**
   * Per channel: the round each reply message was recorded in (message id -> round id), so
   * a deletion that names only the channel finds the reply's round in any phase.
   */
  replyRounds(scope: Scope, channelId: string): string {
    return `${this.tenant(scope)}:channel:${channelId}:reply-rounds`;
  }
  /** Which contribution set each reply message belongs to, or that it was deleted. */
  replyIndex(scope: Scope, roundId: string): string {
    return `${this.round(scope, roundId)}:replies`;
  }
  candidates(scope: Scope, roundId: string, version: number): string {
    return `${this.round(scope, roundId)}:candidates:${version}`;
  }
  scores(scope: Scope, roundId: string, version: number): string {
    return `${this.round(scope, roundId)}:scores:${version}`;
  }
  poll(scope: Scope, roundId: string, version: number): string {
    return `${this.round(scope, roundId)}:poll:${version}`;
  }
  reactions(scope: Scope, roundId: string, version: number): string {
    return `${this.round(scope, roundId)}:reactions:${version}`;
  }
  /** Set once a poll's turnout was complete (every participant rated), by the first to see it. */
  turnout(scope: Scope, roundId: string, version: number): string {
    return `${this.round(scope, roundId)}:turnout:${version}`;
  }
  usage(scope: Scope, roundId: string): string {
    return `${this.round(scope, roundId)}:usage`;
  }
  messages(scope: Scope, roundId: string): string {
    return `${this.round(scope, roundId)}:messages`;
  }
  /** Held while one process posts or edits the message of a round's slot. */
  slotLock(scope: Scope, roundId: string, slot: string): string {
    return `${this.round(scope, roundId)}:lock:${slot}`;
  }
  /** When the first try to post the message of a round's slot began (see markPosting). */
  postingSince(scope: Scope, roundId: string, slot: string): string {
    return `${this.round(scope, roundId)}:posting:${slot}`;
  }
  messageRef(scope: Scope, channelId: string, messageId: string): string {
    return `${this.tenant(scope)}:msg:${channelId}:${messageId}`;
  }
  event(scope: Scope, eventId: string): string {
    return `${this.tenant(scope)}:event:${eventId}`;
  }
  /** The workspace's ratings matrix (ratings-matrix.ts): one hash per part. */
  ratingsMatrix(scope: Scope, part: 'ratings' | 'statements' | 'opinions'): string {
    return `${this.tenant(scope)}:matrix:${part}`;
  }
  /** The matrix's statement ids by poll open time: what a window of it reads first. */
  ratingsMatrixByTime(scope: Scope): string {
    return `${this.tenant(scope)}:matrix:by-time`;
  }
  /** One statement's ratings (member -> rating), for reading a window of the matrix. */
  ratingsMatrixStatement(scope: Scope, statementId: string): string {
    return `${this.tenant(scope)}:matrix:statement:${statementId}`;
  }
  /** Set once the index holds everything the whole-matrix hashes held before it. */
  ratingsMatrixIndexed(scope: Scope): string {
    return `${this.tenant(scope)}:matrix:indexed`;
  }
  /** One round's opinions (member -> opinion), for reading a window of the matrix. */
  ratingsMatrixRound(scope: Scope, roundId: string): string {
    return `${this.tenant(scope)}:matrix:round:${roundId}`;
  }
}

/** Opinions are version 0 of a round's contributions; critiques of version v are `critique:v`. */
export type ContributionKind = 'opinion' | 'critique';
