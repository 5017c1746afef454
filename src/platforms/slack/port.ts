import type { webApi } from '@slack/bolt';
import { z } from 'zod';
import { type EarlierTry, type PlatformPort, ThreadGoneError } from '../../deliberation/ports.js';
import type {
  CritiqueInviteView,
  NoticeView,
  ProgressView,
  QuestionView,
  ResultsView,
  StatementView,
} from '../../deliberation/views.js';
import { errorMessage } from '../../domain/errors.js';
import type { Log } from '../../domain/log.js';
import type { MessageRef } from '../../domain/round.js';
import { chartAltText, chartFilename, resultsChartPng } from '../chart/results-chart.js';
import {
  critiqueInviteMessage,
  noticeMessage,
  progressMessage,
  questionMessage,
  resultsMessage,
  type SlackMessage,
  statementMessage,
} from './blocks.js';
import { emojiFor } from './emoji.js';
import { escapeKeepingMentions } from './text.js';

/** The `error` of a Web API answer `{ok: false, error}`, or null for any other failure. */
export function slackErrorCode(error: unknown): string | null {
  if (typeof error !== 'object' || error === null || !('data' in error)) return null;
  const data: unknown = error.data;
  if (typeof data !== 'object' || data === null || !('error' in data)) return null;
  return typeof data.error === 'string' ? data.error : null;
}

/**
 * Slack's answers for a channel no post can reach again: deleted (or a private one the bot
 * was removed from: channel_not_found), archived, or the bot removed from it. Retrying the
 * job cannot help, and a round whose statement or results cannot be posted would wait for
 * good (a "polling" round with no statement to rate), so these end the round as a deleted
 * thread does (see ThreadGoneError).
 */
const CHANNEL_GONE = new Set(['channel_not_found', 'is_archived', 'not_in_channel']);

/** `error` as ThreadGoneError when Slack said the round's channel is out of reach. */
function channelGone(error: unknown, channel: string, threadTs: string | null): unknown {
  const code = slackErrorCode(error);
  return code !== null && CHANNEL_GONE.has(code)
    ? new ThreadGoneError(threadTs ?? channel, 'channel')
    : error;
}

/**
 * Slack's answers when it no longer accepts the bot token: revoked (the app was uninstalled
 * or the token rotated), or the bot user deactivated. Nothing the bot posts can succeed
 * until an admin reinstalls the app and the process restarts with the new token.
 */
const TOKEN_REFUSED = new Set(['token_revoked', 'invalid_auth', 'account_inactive', 'not_authed']);

/**
 * chat.update's answers for a progress message that can never be edited again: deleted by
 * someone (message_not_found), or one Slack will not let the bot change. Each later edit,
 * and each of its job's retries, would be refused the same way.
 */
const EDIT_REFUSED = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed']);
/** Remembered in place of an edit for a progress message that cannot be edited. */
const UNEDITABLE = '';

/** Progress edits remembered, so an edit that would change nothing is not sent. */
const REMEMBERED_EDITS = 500;

export type ChannelAccess = 'ok' | 'not_member' | 'not_a_channel' | 'archived';

/**
 * Whether a channel is shared with other workspaces, as this bot token sees it:
 * 'not_shared' also for a channel the token cannot see (another workspace's), 'unknown'
 * when Slack could not be asked.
 */
export type ChannelSharing = 'shared' | 'not_shared' | 'unknown';

/** conversations.info's sharing flags; the team id lists are not complete for partners. */
/** What channelAccess reads of conversations.info. */
const MembershipSchema = z.object({
  channel: z
    .object({
      is_im: z.boolean().nullish(),
      is_mpim: z.boolean().nullish(),
      is_member: z.boolean().nullish(),
      is_archived: z.boolean().nullish(),
    })
    .nullish(),
});

const SharingSchema = z.object({
  channel: z
    .object({
      is_shared: z.boolean().nullish(),
      is_ext_shared: z.boolean().nullish(),
      is_org_shared: z.boolean().nullish(),
    })
    .nullish(),
});

/** How far before an earlier try's start its post is looked for (clock skew with Slack). */
const CLOCK_SLACK_MS = 60_000;
/** Pages of 200 thread messages read when looking for an earlier try's post. */
const OWN_POST_PAGES = 5;

/** A member's standing in the workspace, as users.info tells it. */
export type WorkspaceRole = 'owner' | 'admin' | 'member';

/**
 * The Slack side of the service: posts and edits messages through the Web API
 * (chat.postMessage, chat.update, reactions.add), plus what the event and command
 * handlers need (ephemeral notes, the start form, file export).
 */
export class SlackPort implements PlatformPort {
  private readonly lastEdit = new Map<string, string>();
  /** Said once: every post after a revoked token fails alike, each job five times. */
  private tokenRefusalLogged = false;

  constructor(
    private readonly client: webApi.WebClient,
    private readonly log: Log,
  ) {}

  private async post(
    channel: string,
    message: SlackMessage,
    threadTs: string | null,
    broadcast = false,
  ): Promise<MessageRef> {
    const common = {
      channel,
      text: message.text,
      blocks: message.blocks,
      unfurl_links: false,
      unfurl_media: false,
    };
    const args =
      threadTs === null
        ? common
        : broadcast
          ? { ...common, thread_ts: threadTs, reply_broadcast: true }
          : { ...common, thread_ts: threadTs };
    let res: Awaited<ReturnType<webApi.WebClient['chat']['postMessage']>>;
    try {
      res = await this.client.chat.postMessage(args);
    } catch (error) {
      this.noteTokenRefused(error);
      throw channelGone(error, channel, threadTs);
    }
    if (!res.ts) throw new Error('chat.postMessage answered without a message ts');
    return { channelId: res.channel ?? channel, messageId: res.ts, threadId: threadTs };
  }

  async postQuestion(
    view: QuestionView,
    onPosted: (ref: MessageRef) => Promise<void>,
  ): Promise<MessageRef> {
    const ref = await this.post(view.channelId, questionMessage(view), null);
    await onPosted(ref);
    return ref;
  }

  async upsertProgress(view: ProgressView, existing: MessageRef | null): Promise<MessageRef> {
    const message = progressMessage(view);
    if (!existing) {
      const ref = await this.post(view.channelId, message, view.thread?.messageId ?? null);
      this.remember(ref.messageId, JSON.stringify(message));
      return ref;
    }
    const key = JSON.stringify(message);
    const last = this.lastEdit.get(existing.messageId);
    if (last === key || last === UNEDITABLE) return existing;
    try {
      await this.client.chat.update({
        channel: existing.channelId,
        ts: existing.messageId,
        text: message.text,
        blocks: message.blocks,
      });
    } catch (error) {
      this.noteTokenRefused(error);
      const code = slackErrorCode(error);
      if (code === null || !EDIT_REFUSED.has(code)) {
        throw channelGone(error, existing.channelId, view.thread?.messageId ?? null);
      }
      // The progress message is only a view of the run: the statement and the results are
      // posted whatever it shows, so the run goes on without it, edited no more.
      this.log.warn(
        { roundId: view.roundId, error: code },
        'the progress message cannot be edited; it is left as it is',
      );
      this.remember(existing.messageId, UNEDITABLE);
      return existing;
    }
    this.remember(existing.messageId, key);
    return existing;
  }

  async removeProgress(ref: MessageRef): Promise<void> {
    try {
      await this.client.chat.delete({ channel: ref.channelId, ts: ref.messageId });
    } catch (error) {
      this.noteTokenRefused(error);
      if (slackErrorCode(error) !== 'message_not_found') throw error;
    }
    this.lastEdit.delete(ref.messageId);
  }

  /**
   * The job's own "job failed" lines only say `token_revoked`; the operator is told once,
   * at error level, what it means and what to do. The token itself is never logged.
   */
  private noteTokenRefused(error: unknown): void {
    const code = slackErrorCode(error);
    if (code === null || !TOKEN_REFUSED.has(code) || this.tokenRefusalLogged) return;
    this.tokenRefusalLogged = true;
    this.log.error(
      { error: code },
      'Slack no longer accepts SLACK_BOT_TOKEN, so nothing can be posted: reinstall the app ' +
        '(Install App → Reinstall) and restart the bot with its new Bot User OAuth Token',
    );
  }

  /** `edit`: the message as JSON, or UNEDITABLE. */
  private remember(ts: string, edit: string): void {
    this.lastEdit.delete(ts);
    this.lastEdit.set(ts, edit);
    if (this.lastEdit.size > REMEMBERED_EDITS) {
      const oldest = this.lastEdit.keys().next().value;
      if (oldest !== undefined) this.lastEdit.delete(oldest);
    }
  }

  /**
   * Posts a message that must appear once. After an earlier try that may have posted it
   * unrecorded (see EarlierTry), the thread's bot messages since that try are read first
   * (Slack's chat.postMessage takes no idempotency key): one with the same text is that
   * message. `found` says which it was.
   */
  private async postOnce(
    channel: string,
    message: SlackMessage,
    threadTs: string | null,
    earlierTry: EarlierTry,
    broadcast = false,
  ): Promise<{ ref: MessageRef; found: boolean }> {
    if (earlierTry !== null && threadTs !== null) {
      const ts = await this.ownPostSince(channel, threadTs, message.text, earlierTry);
      if (ts !== null)
        return { ref: { channelId: channel, messageId: ts, threadId: threadTs }, found: true };
    }
    return { ref: await this.post(channel, message, threadTs, broadcast), found: false };
  }

  /** The ts of a bot message in the thread with this text, posted since `since` (ms). */
  private async ownPostSince(
    channel: string,
    threadTs: string,
    text: string,
    since: number,
  ): Promise<string | null> {
    // A little before the try began: the two clocks are not the same.
    const oldest = ((since - CLOCK_SLACK_MS) / 1000).toFixed(6);
    let cursor: string | undefined;
    try {
      for (let page = 0; page < OWN_POST_PAGES; page++) {
        const res = await this.client.conversations.replies({
          channel,
          ts: threadTs,
          oldest,
          limit: 200,
          ...(cursor ? { cursor } : {}),
        });
        const found = (res.messages ?? []).find(
          (m) => m.bot_id !== undefined && m.ts !== threadTs && m.text === text,
        );
        if (found?.ts) return found.ts;
        cursor = res.response_metadata?.next_cursor || undefined;
        if (!cursor) return null;
      }
    } catch (error) {
      // Not knowing is no reason to hold the message back: post it.
      this.log.warn({ channel, error: describe(error) }, 'could not look for an earlier post');
    }
    return null;
  }

  async postStatement(
    view: StatementView,
    onPosted: (ref: MessageRef) => Promise<void>,
    earlierTry: EarlierTry = null,
  ): Promise<MessageRef> {
    const { ref } = await this.postOnce(
      view.channelId,
      statementMessage(view),
      view.thread?.messageId ?? null,
      earlierTry,
    );
    await onPosted(ref);
    // An anonymous poll is its buttons; reactions would show who chose what.
    if (view.buttons) return ref;
    // In order, so the poll reads agree/unsure/disagree (or 1..7) left to right.
    for (const option of view.options) {
      const name = emojiFor(option.key);
      try {
        await this.client.reactions.add({ channel: ref.channelId, timestamp: ref.messageId, name });
      } catch (error) {
        // The statement stands without one of its reactions (members can add it); posting
        // it again on a retry would split the vote over two messages.
        if (slackErrorCode(error) !== 'already_reacted') {
          this.log.warn(
            { roundId: view.roundId, reaction: name, error: describe(error) },
            'could not add a poll reaction',
          );
        }
      }
    }
    return ref;
  }

  async postCritiqueInvite(
    view: CritiqueInviteView,
    earlierTry: EarlierTry = null,
  ): Promise<MessageRef> {
    const { ref } = await this.postOnce(
      view.channelId,
      critiqueInviteMessage(view),
      view.thread?.messageId ?? null,
      earlierTry,
    );
    return ref;
  }

  async postResults(view: ResultsView, earlierTry: EarlierTry = null): Promise<MessageRef> {
    // Broadcast: the outcome belongs in the channel, not only in the thread.
    const { ref, found } = await this.postOnce(
      view.channelId,
      resultsMessage(view),
      view.thread?.messageId ?? null,
      earlierTry,
      true,
    );
    // Found from an earlier try: its chart went up then, or is lost; never two of it.
    if (!found) await this.uploadChart(view);
    return ref;
  }

  /**
   * The results chart as a PNG in the round's thread. A failure is logged, not thrown:
   * the results message is posted already, and a retry of the job would post it twice.
   */
  private async uploadChart(view: ResultsView): Promise<void> {
    if (view.versions.length === 0 || view.hidden) return;
    try {
      const filename = chartFilename(view);
      const file = {
        file: Buffer.from(resultsChartPng(view)),
        filename,
        title: 'Results chart',
        alt_text: clipAlt(chartAltText(view)),
        channel_id: view.channelId,
      };
      const threadTs = view.thread?.messageId ?? null;
      await this.client.files.uploadV2(threadTs ? { ...file, thread_ts: threadTs } : file);
    } catch (error) {
      this.log.warn(
        { roundId: view.roundId, error: describe(error) },
        'could not upload the chart',
      );
    }
  }

  async postNotice(view: NoticeView): Promise<MessageRef | null> {
    return this.post(view.channelId, noticeMessage(view), view.thread?.messageId ?? null);
  }

  // ---- for the handlers ---------------------------------------------------------------

  /** A note only `user` sees. Failures are logged, not thrown: a note is never worth a crash. */
  async tell(channel: string, user: string, text: string, threadTs: string | null): Promise<void> {
    try {
      await this.client.chat.postEphemeral(
        threadTs === null ? { channel, user, text } : { channel, user, text, thread_ts: threadTs },
      );
    } catch (error) {
      this.log.warn({ channel, error: describe(error) }, 'could not send an ephemeral note');
    }
  }

  /**
   * An ephemeral answer through a command's response_url (valid 30 minutes, 5 uses).
   * False when Slack refused it (expired, used up) or it could not be reached.
   */
  async respond(responseUrl: string, text: string): Promise<boolean> {
    try {
      const res = await fetch(responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) return true;
      this.log.warn({ status: res.status }, 'Slack refused an answer through a response_url');
    } catch (error) {
      this.log.warn({ error: describe(error) }, 'could not answer through a response_url');
    }
    return false;
  }

  /**
   * Whether a round can run here: the bot must see the channel's messages, in a channel not
   * archived. Deleted, or private and the bot not in it, Slack answers channel_not_found.
   */
  async channelAccess(channel: string): Promise<ChannelAccess> {
    try {
      const parsed = MembershipSchema.safeParse(await this.client.conversations.info({ channel }));
      // An answer of another shape tells nothing: the post itself succeeds or fails.
      const info = parsed.success ? parsed.data.channel : null;
      if (info?.is_im || info?.is_mpim) return 'not_a_channel';
      if (info?.is_archived) return 'archived';
      return info?.is_member === false ? 'not_member' : 'ok';
    } catch (error) {
      const code = slackErrorCode(error);
      if (code === 'channel_not_found') return 'not_member';
      // Missing scope or a hiccup: let the post itself succeed or fail.
      this.log.warn({ channel, error: describe(error) }, 'could not check channel membership');
      return 'ok';
    }
  }

  /**
   * conversations.info for a payload from another team: Slack answers channel_not_found
   * for a channel of a workspace this token is not installed in, and names a Slack
   * Connect (is_ext_shared) or organisation-wide (is_org_shared) channel as shared.
   */
  async channelSharing(channel: string): Promise<ChannelSharing> {
    try {
      const parsed = SharingSchema.safeParse(await this.client.conversations.info({ channel }));
      const c = parsed.success ? parsed.data.channel : null;
      return c?.is_ext_shared || c?.is_org_shared || c?.is_shared ? 'shared' : 'not_shared';
    } catch (error) {
      if (slackErrorCode(error) === 'channel_not_found') return 'not_shared';
      this.log.warn(
        { channel, error: describe(error) },
        'could not check whether a channel is shared',
      );
      return 'unknown';
    }
  }

  async openModal(
    triggerId: string,
    view: Parameters<webApi.WebClient['views']['open']>[0]['view'],
  ) {
    await this.client.views.open({ trigger_id: triggerId, view });
  }

  async uploadText(options: {
    channel: string;
    threadTs: string | null;
    filename: string;
    content: string;
    comment: string;
  }): Promise<void> {
    const file = {
      filename: options.filename,
      title: options.filename,
      content: options.content,
      initial_comment: options.comment,
    };
    await this.client.files.uploadV2(
      options.threadTs
        ? { ...file, channel_id: options.channel, thread_ts: options.threadTs }
        : { ...file, channel_id: options.channel },
    );
  }

  /** Several text files in one message (one upload, one comment), e.g. an export's CSVs. */
  async uploadTexts(options: {
    channel: string;
    threadTs: string | null;
    files: readonly { filename: string; content: string }[];
    comment: string;
  }): Promise<void> {
    const upload = {
      file_uploads: options.files.map((f) => ({
        filename: f.filename,
        title: f.filename,
        content: f.content,
      })),
      initial_comment: options.comment,
    };
    await this.client.files.uploadV2(
      options.threadTs
        ? { ...upload, channel_id: options.channel, thread_ts: options.threadTs }
        : { ...upload, channel_id: options.channel },
    );
  }

  /**
   * Several text files in the bot's direct message with `user`, where only they see them
   * (conversations.open, which needs the im:write scope).
   */
  async uploadTextsToMember(options: {
    user: string;
    files: readonly { filename: string; content: string }[];
    comment: string;
  }): Promise<void> {
    await this.uploadTexts({
      channel: await this.directChannel(options.user),
      threadTs: null,
      files: options.files,
      comment: options.comment,
    });
  }

  async directMessage(userId: string, text: string): Promise<void> {
    const channel = await this.directChannel(userId);
    const message = escapeKeepingMentions(text);
    await this.client.chat.postMessage({ channel, text: message, unfurl_links: false });
  }

  /** The bot's direct-message channel with `user` (conversations.open reuses an open one). */
  private async directChannel(user: string): Promise<string> {
    const res = await this.client.conversations.open({ users: user });
    const channel = res.channel?.id;
    if (!channel) throw new Error('conversations.open answered without a channel');
    return channel;
  }

  /** users.info: whether the account is a bot user (of any app). */
  async isBot(user: string): Promise<boolean> {
    const res = await this.client.users.info({ user });
    return res.user?.is_bot === true;
  }

  /**
   * users.info: whether a member owns or administers the workspace `teamId`. A member
   * from another organisation (Slack Connect) is reported with their own team's flags,
   * which say nothing about this workspace. An org-wide installation's `teamId` is its
   * organisation (`E…`), while a member's `team_id` is their workspace: the organisation's
   * own flags (`enterprise_user`) decide there. Its owners own the bot's data (`export
   * all` covers the whole organisation); a workspace's admin or owner administers.
   */
  async workspaceRole(user: string, teamId: string): Promise<WorkspaceRole> {
    const res = await this.client.users.info({ user });
    const account = res.user;
    const org = account?.enterprise_user;
    if (org?.enterprise_id !== undefined && org.enterprise_id === teamId) {
      if (org.is_owner || org.is_primary_owner) return 'owner';
      const administers = org.is_admin || account?.is_admin || account?.is_owner;
      return administers ? 'admin' : 'member';
    }
    const home = account?.team_id;
    if (home !== undefined && home !== teamId) return 'member';
    if (account?.is_owner || account?.is_primary_owner) return 'owner';
    return account?.is_admin ? 'admin' : 'member';
  }
}

/** Slack caps a file's alt text at 1000 characters. */
function clipAlt(text: string): string {
  return text.length <= 1_000 ? text : `${text.slice(0, 999)}…`;
}

/** An error in one line, fit for a log: Slack's error code when there is one. */
export function describe(error: unknown): string {
  const code = slackErrorCode(error);
  if (code) return code;
  return errorMessage(error);
}
