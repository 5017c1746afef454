import type { PlatformPort } from '../../deliberation/ports.js';
import type {
  CritiqueInviteView,
  NoticeView,
  ProgressView,
  QuestionView,
  ResultsView,
  StatementView,
} from '../../deliberation/views.js';
import type { MessageRef } from '../../domain/round.js';
import { chartAltText, chartFilename, resultsChartPng } from '../chart/results-chart.js';
import {
  renderCritiqueInvite,
  renderProgress,
  renderQuestion,
  renderResults,
  renderStatement,
} from './render.js';

export interface PostedMessage {
  ref: MessageRef;
  kind: 'question' | 'progress' | 'statement' | 'critique-invite' | 'results' | 'notice';
  roundId: string;
  text: string;
}

/**
 * A terminal "channel": every message the bot posts is printed and kept, and an event
 * fires so the demo (or a test) can wait for it. Message ids are sequential.
 */
export class ConsolePlatform implements PlatformPort {
  readonly posted: PostedMessage[] = [];
  // Checked synchronously on every post, so no message slips between two waits.
  private readonly waiters = new Set<{
    matches: (m: PostedMessage) => boolean;
    resolve: (m: PostedMessage) => void;
  }>();
  private nextId = 1;
  /** The progress text last printed per progress message, so a repeat prints nothing. */
  private readonly progressShown = new Map<string, string>();
  /** `roundId:version` of every statement printed, see `upsertProgress`. */
  private readonly statementsShown = new Set<string>();
  /**
   * Why the last results chart could not be saved (a folder gone, a full disk), for the
   * demo to report; null once a chart is saved.
   */
  chartError: Error | null = null;

  constructor(
    private readonly write: (text: string) => void,
    private readonly nameOf: (participantId: string) => string = (id) => id,
    /** Where the results chart goes (the demo's `--chart` file); no chart is drawn without it. */
    private readonly saveChart: ((filename: string, png: Uint8Array) => void) | null = null,
  ) {}

  /**
   * Resolves with the `occurrence`-th message of `kind` for `roundId` (1 = the first),
   * posted already or yet to come.
   */
  waitFor(
    kind: PostedMessage['kind'],
    roundId: string,
    timeoutMs = 30_000,
    occurrence = 1,
  ): Promise<PostedMessage> {
    const matches = (m: PostedMessage) => m.kind === kind && m.roundId === roundId;
    const past = this.posted.filter(matches);
    if (past.length >= occurrence) return Promise.resolve(past[occurrence - 1] as PostedMessage);
    let seen = past.length;
    return new Promise((resolve, reject) => {
      const waiter = {
        matches: (m: PostedMessage) => matches(m) && ++seen === occurrence,
        resolve: (m: PostedMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `no ${kind} message #${occurrence} for round ${roundId} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private refFor(view: { channelId: string; thread: MessageRef | null }): MessageRef {
    return {
      channelId: view.channelId,
      messageId: `m${this.nextId++}`,
      threadId: view.thread?.messageId ?? null,
    };
  }

  private post(
    kind: PostedMessage['kind'],
    view: { roundId: string; channelId: string; thread: MessageRef | null },
    text: string,
    ref: MessageRef = this.refFor(view),
  ): MessageRef {
    const message = { ref, kind, roundId: view.roundId, text };
    this.posted.push(message);
    this.write(text);
    for (const waiter of [...this.waiters]) {
      if (waiter.matches(message)) {
        this.waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
    return ref;
  }

  async postQuestion(
    view: QuestionView,
    onPosted: (ref: MessageRef) => Promise<void>,
  ): Promise<MessageRef> {
    const ref = this.refFor(view);
    await onPosted(ref);
    return this.post('question', view, renderQuestion(view), ref);
  }

  async upsertProgress(view: ProgressView, existing: MessageRef | null): Promise<MessageRef> {
    const text = renderProgress(view);
    if (!existing) {
      const ref = await this.post('progress', view, text);
      this.progressShown.set(ref.messageId, text);
      return ref;
    }
    // A terminal cannot edit a line above; print the new state only when it is news
    // (progress jobs re-deliver the same state, e.g. after the statement is posted).
    if (this.progressShown.get(existing.messageId) === text) return existing;
    // The last edit and the statement are separate publish jobs that may finish in either
    // order. Printed after the statement, "Done: the statement is below" would point at
    // what comes next, and the statement itself already says the run is done.
    if (view.state === 'done' && this.statementsShown.has(`${view.roundId}:${view.version}`)) {
      return existing;
    }
    this.progressShown.set(existing.messageId, text);
    this.write(text);
    return existing;
  }

  /** A terminal cannot take back a line: the newer state is printed after it anyway. */
  async removeProgress(): Promise<void> {}

  async postStatement(
    view: StatementView,
    onPosted: (ref: MessageRef) => Promise<void>,
  ): Promise<MessageRef> {
    // Linked before anyone watching the terminal can react to it.
    const ref = this.refFor(view);
    await onPosted(ref);
    this.statementsShown.add(`${view.roundId}:${view.version}`);
    return this.post('statement', view, renderStatement(view, this.nameOf), ref);
  }

  async postCritiqueInvite(view: CritiqueInviteView): Promise<MessageRef> {
    return this.post('critique-invite', view, renderCritiqueInvite(view));
  }

  async postResults(view: ResultsView): Promise<MessageRef> {
    const ref = this.post('results', view, renderResults(view, this.nameOf));
    if (this.saveChart && view.versions.length > 0 && !view.hidden) {
      const filename = chartFilename(view);
      try {
        this.saveChart(filename, resultsChartPng(view));
        this.chartError = null;
      } catch (error) {
        // Kept, not thrown: the results are posted already, and a failed publish job would
        // be retried and post them again, while nobody would learn the chart is missing.
        this.chartError = error instanceof Error ? error : new Error(String(error));
        return ref;
      }
      this.write(`  Chart: ${chartAltText(view)}`);
    }
    return ref;
  }

  async postNotice(view: NoticeView): Promise<MessageRef | null> {
    return this.post('notice', view, `  ! ${view.text}`);
  }

  async directMessage(userId: string, text: string): Promise<void> {
    this.write(`  ! (to ${userId} only) ${text}`);
  }
}
