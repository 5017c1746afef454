import { createHash } from 'node:crypto';
import {
  type APIActionRowComponent,
  type APIButtonComponent,
  type APIEmbed,
  type REST,
  RESTJSONErrorCodes,
  Routes,
  ThreadAutoArchiveDuration,
} from 'discord.js';
import { z } from 'zod';
import { type PlatformPort, ThreadGoneError } from '../../deliberation/ports.js';
import type {
  CritiqueInviteView,
  NoticeView,
  ProgressView,
  QuestionView,
  ResultsView,
  RoundHeader,
  StatementView,
} from '../../deliberation/views.js';
import type { Log } from '../../domain/log.js';
import type { MessageRef } from '../../domain/round.js';
import { chartAltText, chartFilename, resultsChartPng } from '../chart/results-chart.js';
import { emojiFor } from './emoji.js';
import { describeError, hasDiscordCode } from './errors.js';
import {
  CONTENT_MAX,
  clip,
  critiqueInviteText,
  MAX_PINGS,
  progressText,
  questionEmbed,
  rateButtons,
  resultsEmbed,
  splitContent,
  statementEmbed,
  threadName,
} from './render.js';

const CreatedMessageSchema = z.object({ id: z.string().min(1), channel_id: z.string().min(1) });
/** A created thread, or the direct-message channel Discord opens: only the id is read. */
const CreatedThreadSchema = z.object({ id: z.string().min(1) });

/** Nothing the bot posts may ping anyone: questions and statements quote members' text. */
const NO_PINGS = { parse: [] as never[] };

interface OutgoingMessage {
  content?: string;
  embeds?: APIEmbed[];
  components?: APIActionRowComponent<APIButtonComponent>[];
  /** Who may be pinged; default nobody (NO_PINGS). */
  allowedMentions?: { parse: never[]; users: string[] };
  /** Attachments, sent as multipart; `attachments` in the body names them. */
  files?: { name: string; data: Buffer; contentType: string; description: string }[];
  /**
   * What this message is, for a message that must be posted once: a job retried after
   * Discord created the message but before the bot recorded it (a crash, Redis gone)
   * sends the same nonce, and Discord hands back the message it made instead of a
   * second one (`enforce_nonce`, honoured for a few minutes, the time a retry takes).
   */
  once?: string;
}

/** Discord's nonce is at most 25 characters: a hash of what the message is. */
function nonceOf(once: string): string {
  return createHash('sha256').update(once).digest('base64url').slice(0, 25);
}

/**
 * The service's outbound port on Discord's REST API. The publish worker calls it from a
 * queue job, where no gateway objects are at hand, so it talks REST by channel id only;
 * @discordjs/rest queues per route and waits out 429s by their retry_after.
 */
export class DiscordPlatform implements PlatformPort {
  constructor(
    private readonly rest: REST,
    private readonly log: Log,
  ) {}

  async postQuestion(
    view: QuestionView,
    onPosted: (ref: MessageRef) => Promise<void>,
  ): Promise<MessageRef> {
    const message = await this.post(view.channelId, null, { embeds: [questionEmbed(view)] });
    let threadId: string;
    try {
      // Linked before the thread exists: it takes the question's id, so a member who
      // replies the moment it opens finds the round. Linked after, that reply was lost.
      await onPosted(message);
      const thread = CreatedThreadSchema.parse(
        await this.rest.post(Routes.threads(view.channelId, message.messageId), {
          body: {
            name: threadName(view.question),
            auto_archive_duration: ThreadAutoArchiveDuration.OneWeek,
          },
        }),
      );
      threadId = thread.id;
    } catch (error) {
      // Without a thread (or a link) the round cannot collect opinions; take the question
      // down so the job's retry posts one question, not two.
      await this.rest
        .delete(Routes.channelMessage(view.channelId, message.messageId))
        .catch(() => undefined);
      throw error;
    }
    // The thread's id equals the question's id; replies arrive with channel_id = thread.
    return { channelId: view.channelId, messageId: message.messageId, threadId };
  }

  async upsertProgress(view: ProgressView, existing: MessageRef | null): Promise<MessageRef> {
    const body = { content: progressText(view) };
    if (!existing) return this.inThread(view, body);
    try {
      await this.rest.patch(Routes.channelMessage(existing.channelId, existing.messageId), {
        body: { ...body, allowed_mentions: NO_PINGS },
      });
    } catch (error) {
      // Someone deleted the progress message: later stages still post their own messages.
      if (!isUnknownMessage(error)) throw error;
      this.log.info({ roundId: view.roundId }, 'progress message is gone; not editing it');
    }
    return existing;
  }

  async removeProgress(ref: MessageRef): Promise<void> {
    try {
      await this.rest.delete(Routes.channelMessage(ref.channelId, ref.messageId));
    } catch (error) {
      if (!isUnknownMessage(error)) throw error;
    }
  }

  async postStatement(
    view: StatementView,
    onPosted: (ref: MessageRef) => Promise<void>,
  ): Promise<MessageRef> {
    // An anonymous or hidden poll is its buttons; reactions would show who chose what.
    // The text too: a later run of the same version (a failed run closed again) may
    // choose another statement, which is a message of its own.
    const once = `statement:${view.channelId}:${view.roundId}:${view.version}:${view.statement}`;
    if (view.buttons) {
      const ref = await this.inThread(view, {
        embeds: [statementEmbed(view)],
        components: rateButtons(view),
        once,
      });
      await onPosted(ref);
      return ref;
    }
    const ref = await this.inThread(view, { embeds: [statementEmbed(view)], once });
    // Linked before the first reaction goes on: members who react as soon as the poll
    // shows find the statement linked, and their rating counts.
    await onPosted(ref);
    await this.addPollReactions(view, ref);
    return ref;
  }

  private async addPollReactions(view: StatementView, ref: MessageRef): Promise<void> {
    // In order, so the options read left to right as on the scale. A failed reaction
    // must not fail the job: a retry would post the statement twice, and members can
    // still add the reaction themselves.
    for (const option of view.options) {
      try {
        await this.rest.put(
          Routes.channelMessageOwnReaction(
            ref.channelId,
            ref.messageId,
            encodeURIComponent(emojiFor(option.key)),
          ),
        );
      } catch (error) {
        this.log.warn(
          { roundId: view.roundId, option: option.key, ...describeError(error) },
          'could not add a poll reaction',
        );
      }
    }
  }

  async postCritiqueInvite(view: CritiqueInviteView): Promise<MessageRef> {
    return this.inThread(view, {
      content: critiqueInviteText(view),
      once: `critique:${view.channelId}:${view.roundId}:${view.version}`,
    });
  }

  async postResults(view: ResultsView): Promise<MessageRef> {
    const embed = resultsEmbed(view);
    const chart = this.chartOf(view);
    const once = `results:${view.channelId}:${view.roundId}`;
    if (!chart) return this.inThread(view, { embeds: [embed], once });
    // One message with the chart as the embed's image: results and picture stay together.
    try {
      return await this.inThread(view, {
        embeds: [{ ...embed, image: { url: `attachment://${chart.name}` } }],
        files: [chart],
        once,
      });
    } catch (error) {
      // Attach Files taken away in the channel: the results matter, the picture does not.
      // Nothing was created, so the same nonce is free for the message without it.
      if (!isMissingPermissions(error)) throw error;
      this.log.warn(
        { roundId: view.roundId, ...describeError(error) },
        'could not attach the chart; posting the results without it',
      );
      return this.inThread(view, { embeds: [embed], once });
    }
  }

  /** The results chart, or null (nothing to draw, or rendering failed: the text still goes). */
  private chartOf(view: ResultsView): NonNullable<OutgoingMessage['files']>[number] | null {
    if (view.versions.length === 0 || view.hidden) return null;
    try {
      return {
        name: chartFilename(view),
        data: Buffer.from(resultsChartPng(view)),
        contentType: 'image/png',
        // Discord caps an attachment's description at 1024 characters.
        description: clip(chartAltText(view), 1_024),
      };
    } catch (error) {
      this.log.warn(
        { roundId: view.roundId, ...describeError(error) },
        'could not render the chart',
      );
      return null;
    }
  }

  async postNotice(view: NoticeView): Promise<MessageRef | null> {
    const mentions = view.mentions ?? [];
    if (mentions.length === 0)
      return this.inThread(view, { content: clip(view.text, CONTENT_MAX) });
    // A reminder to a large group names more members than one message holds (2,000
    // characters, 100 pings): it goes in as many messages as it needs, each pinging the
    // members it names and no one else, so nobody is left out or named by half an id.
    let first: MessageRef | null = null;
    for (const content of splitContent(view.text, CONTENT_MAX)) {
      const users = mentions.filter((id) => content.includes(`<@${id}>`));
      const ref = await this.inThread(view, {
        content,
        allowedMentions: { parse: [], users: users.slice(0, MAX_PINGS) },
      });
      first ??= ref;
    }
    return first;
  }

  /**
   * Replies to a member's message (e.g. their opinion was cut), pinging only them. The
   * reply itself pings its author (`replied_user`), so the text carries no mention: the
   * thread may be an anonymous round's, where nothing the bot posts names a member.
   */
  async replyTo(channelId: string, messageId: string, text: string): Promise<MessageRef> {
    const body = {
      content: clip(text, CONTENT_MAX),
      message_reference: { message_id: messageId, fail_if_not_exists: false },
      allowed_mentions: { parse: [], replied_user: true },
    };
    const message = CreatedMessageSchema.parse(
      await this.rest.post(Routes.channelMessages(channelId), { body }),
    );
    return { channelId: message.channel_id, messageId: message.id, threadId: channelId };
  }

  async directMessage(userId: string, text: string): Promise<void> {
    const dm = CreatedThreadSchema.parse(
      await this.rest.post(Routes.userChannels(), { body: { recipient_id: userId } }),
    );
    await this.post(dm.id, null, { content: clip(text, CONTENT_MAX) });
  }

  /**
   * What Discord says of a channel the gateway reported deleted: 'gone' (Unknown Channel),
   * 'hidden' from the bot (Missing Access: its View Channel taken away), or 'visible'.
   * Any other failure is thrown.
   */
  async channelState(channelId: string): Promise<'gone' | 'hidden' | 'visible'> {
    try {
      await this.rest.get(Routes.channel(channelId));
      return 'visible';
    } catch (error) {
      if (isUnknownChannel(error)) return 'gone';
      if (hasDiscordCode(error, RESTJSONErrorCodes.MissingAccess)) return 'hidden';
      throw error;
    }
  }

  /** Everything about a round after the question goes into the question's thread. */
  private async inThread(view: RoundHeader, message: OutgoingMessage): Promise<MessageRef> {
    const threadId = view.thread?.threadId ?? null;
    try {
      return await this.post(threadId ?? view.channelId, threadId, message);
    } catch (error) {
      // Deleted by a moderator: every later post would fail the same way.
      if (threadId !== null && isUnknownChannel(error)) throw new ThreadGoneError(threadId);
      // Locked by a moderator: only members with Manage Threads, which the bot does not
      // ask for, may post there; a thread that is only archived is reopened by a post.
      if (threadId !== null && isArchivedThread(error)) {
        throw new ThreadGoneError(threadId, 'locked');
      }
      throw error;
    }
  }

  private async post(
    channelId: string,
    threadId: string | null,
    message: OutgoingMessage,
  ): Promise<MessageRef> {
    const { files, allowedMentions, once, ...rest } = message;
    const body = {
      ...rest,
      ...(once === undefined ? {} : { nonce: nonceOf(once), enforce_nonce: true }),
      allowed_mentions: allowedMentions ?? NO_PINGS,
      ...(files
        ? {
            attachments: files.map((f, id) => ({
              id,
              filename: f.name,
              description: f.description,
            })),
          }
        : {}),
    };
    const created = CreatedMessageSchema.parse(
      await this.rest.post(
        Routes.channelMessages(channelId),
        files
          ? {
              body,
              files: files.map(({ name, data, contentType }) => ({ name, data, contentType })),
            }
          : { body },
      ),
    );
    return { channelId: created.channel_id, messageId: created.id, threadId };
  }
}

const isUnknownChannel = (error: unknown) =>
  hasDiscordCode(error, RESTJSONErrorCodes.UnknownChannel);
/** Locked (only Manage Threads may post), or archived for an action a post cannot undo. */
const isArchivedThread = (error: unknown) =>
  hasDiscordCode(
    error,
    RESTJSONErrorCodes.InvalidActionOnArchivedThread,
    RESTJSONErrorCodes.ThreadLocked,
  );
const isMissingPermissions = (error: unknown) =>
  hasDiscordCode(error, RESTJSONErrorCodes.MissingPermissions);
const isUnknownMessage = (error: unknown) =>
  hasDiscordCode(error, RESTJSONErrorCodes.UnknownMessage);
