import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, ErrorCode, HTTPReceiver, type Logger, LogLevel, webApi } from '@slack/bolt';
import { z } from 'zod';
import { REMOVAL_REMINDER_SECONDS } from '../../deliberation/service.js';
import type { Log } from '../../domain/log.js';
import { KeySafeIdSchema, type Scope } from '../../domain/scope.js';
import { RATE_BLOCK_PATTERN, START_MODAL_ID } from './blocks.js';
import { BotUsers } from './bot-users.js';
import { SLACK_CATCH_UP_LIMITS, SlackCatchUp, type SlackCatchUpLimits } from './catch-up.js';
import { type ParsedCommand, parseCommand } from './command.js';
import {
  type CommandDeps,
  type CommandInput,
  helpReply,
  type Reply,
  readStartForm,
  runCommand,
  startFromForm,
} from './commands.js';
import {
  CHANNEL_GONE_EVENTS,
  cancelForChannelClosed,
  type EventMeta,
  isBotJoining,
  onChannelGone,
  onMessage,
  onRateAction,
  onReaction,
  tellBotRemoved,
} from './events.js';
import { Moderators } from './moderators.js';
import { describe, SlackPort } from './port.js';
import type { SlackService } from './service.js';
import {
  commandTeam,
  type Installation,
  interactionTeam,
  type PayloadTeam,
  SharedChannels,
  servesTeam,
} from './tenancy.js';
import { escapeKeepingMentions } from './text.js';

export interface SlackAdapterOptions {
  botToken: string;
  /** Set: Socket Mode (no public URL). Unset: HTTP mode with `signingSecret`. */
  appToken: string | null;
  signingSecret: string | null;
  /** Web API base, e.g. https://slack.com/api/ (Socket Mode opens its connection there too). */
  apiUrl: string;
  /** HTTP mode: where POST /slack/events listens; 0 = any free port. */
  port: number;
  /** SLACK_MODERATORS; null = anyone may start a round. */
  moderatorIds: readonly string[] | null;
  log: Log;
  /** How the Web API client retries failed calls (a 429 waits for its retry-after first). */
  retry?: webApi.RetryOptions;
  /** HTTP mode: more GET routes beside /slack/events (health, readiness, metrics). */
  routes?: readonly HttpRoute[];
  /** Bounds on what rereading the open rounds at start may read (tests make them small). */
  catchUpLimits?: Partial<SlackCatchUpLimits>;
}

/** A GET (and HEAD) route served beside the Slack endpoint, matched exactly. */
export interface HttpRoute {
  path: string;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

/** How long stop() lets HTTP requests in progress finish before closing their connections. */
const HTTP_CLOSE_GRACE_MS = 2_000;

/** Slack's replay window: a request signed more than five minutes away from now is refused. */
const SIGNATURE_WINDOW_SECONDS = 300;

function isFutureDated(header: string | string[] | undefined): boolean {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(seconds) && seconds - Date.now() / 1000 > SIGNATURE_WINDOW_SECONDS;
}

function plainOk(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
}

/** Slack tokens have recognisable prefixes; none may reach a log line, whatever logs it. */
const TOKEN_PATTERN = /\bx(?:ox[a-z]|app)-[A-Za-z0-9-]+/g;

/** Bolt's logger interface over ours, scrubbed of secrets. */
function boltLogger(log: Log, secrets: readonly string[]): Logger {
  let component = 'bolt';
  const line = (parts: unknown[]): string => {
    let text = parts
      .map((p) => (typeof p === 'string' ? p : p instanceof Error ? p.message : safeJson(p)))
      .join(' ');
    for (const secret of secrets) if (secret) text = text.replaceAll(secret, '[redacted]');
    return text.replace(TOKEN_PATTERN, '[redacted]');
  };
  return {
    // Bolt's debug lines carry whole request bodies: members' messages do not belong in logs.
    debug: () => {},
    info: (...parts: unknown[]) => log.info({ component }, line(parts)),
    warn: (...parts: unknown[]) => log.warn({ component }, line(parts)),
    error: (...parts: unknown[]) => log.error({ component }, line(parts)),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: (name: string) => {
      component = name;
    },
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const EnvelopeSchema = z.object({
  team_id: z.string().nullish(),
  event_id: z.string().nullish(),
  enterprise_id: z.string().nullish(),
  /** The installations the event is delivered for; ours comes first. */
  authorizations: z
    .array(
      z.object({ team_id: z.string().nullish(), enterprise_id: z.string().nullish() }).partial(),
    )
    .nullish(),
});

/** auth.test: the workspace (or, for an org-wide install, the organisation) of the bot token. */
const AuthTestSchema = z.object({
  team_id: z.string().nullish(),
  enterprise_id: z.string().nullish(),
  user_id: z.string().nullish(),
  is_enterprise_install: z.boolean().nullish(),
});

/** Where an interaction happened and where to answer its member (both may be missing). */
const InteractionPlaceSchema = z.object({
  channel: z.object({ id: z.string().min(1) }).nullish(),
  container: z.object({ channel_id: z.string().min(1).nullish() }).nullish(),
  response_url: z.string().nullish(),
});

/** What a member of a workspace this installation does not serve is told, and nothing else. */
export const NOT_SERVED =
  'This installation of the bot serves another workspace, not yours, so nothing was done. ' +
  'Install the app in your own workspace to use it there.';

/** When Slack could not say whether the channel is shared with the member's workspace. */
export const NOT_CHECKED =
  'I could not check that this channel is shared with your workspace, so nothing was done. ' +
  'Please try again in a moment.';

const DEFAULT_RETRY: webApi.RetryOptions = {
  retries: 6,
  factor: 2,
  minTimeout: 500,
  maxTimeout: 30_000,
  randomize: true,
};

/**
 * The Slack connection: a Bolt app (HTTP or Socket Mode) whose listeners turn events and
 * commands into service calls, and the port the publish worker posts through.
 */
export class SlackAdapter {
  readonly port: SlackPort;
  private readonly app: App;
  private readonly moderators: Moderators;
  private readonly bots: BotUsers;
  private readonly inflight = new Set<Promise<unknown>>();
  private service: SlackService | null = null;
  /**
   * Pinned at start from auth.test: one bot token is one installation, so every round is
   * stored under its workspace, the rounds of its shared channels included.
   */
  private installation: Installation | null = null;
  /** For payloads from another team: is their channel one shared with this workspace? */
  private readonly sharedChannels: SharedChannels;
  private started = false;
  /** A reread of the open rounds due after a failed event; one at a time. */
  private rereadTimer: NodeJS.Timeout | null = null;
  /** HTTP mode only. */
  private readonly receiver: HTTPReceiver | null = null;
  private server: Server | null = null;

  constructor(private readonly options: SlackAdapterOptions) {
    const { log } = options;
    const logger = boltLogger(log, [
      options.botToken,
      options.appToken ?? '',
      options.signingSecret ?? '',
    ]);
    const clientOptions: webApi.WebClientOptions = {
      slackApiUrl: options.apiUrl,
      retryConfig: options.retry ?? DEFAULT_RETRY,
      // A call that hangs would hold a publish job forever.
      timeout: 30_000,
    };
    const common = {
      token: options.botToken,
      logger,
      clientOptions,
      // Ours: the handlers drop the bot's own messages and reactions themselves.
      ignoreSelf: false,
      convoStore: false as const,
      // auth.test runs in start(), not in the constructor, so building the adapter is pure.
      deferInitialization: true,
    };
    if (options.appToken) {
      this.app = new App({ ...common, appToken: options.appToken, socketMode: true });
    } else {
      if (!options.signingSecret) {
        throw new Error('HTTP mode needs a signing secret (or an app token for Socket Mode)');
      }
      // The receiver verifies signatures and dispatches; the server in front of it is ours
      // (listenHttp), so health routes match exactly and stop() can end stalled requests.
      this.receiver = new HTTPReceiver({
        signingSecret: options.signingSecret,
        endpoints: '/slack/events',
        logger,
      });
      const receiver = this.receiver;
      this.app = new App({ ...common, receiver });
    }
    this.port = new SlackPort(this.app.client, log);
    this.moderators = new Moderators({
      moderatorIds: options.moderatorIds,
      workspaceRole: (user, teamId) => this.port.workspaceRole(user, teamId),
      log,
    });
    this.bots = new BotUsers({ lookUp: (user) => this.port.isBot(user), log });
    this.sharedChannels = new SharedChannels({
      lookUp: (channel) => this.port.channelSharing(channel),
      now: Date.now,
    });
    this.register();
  }

  /**
   * Connects to Slack and starts taking events; returns the HTTP port (null in Socket
   * Mode) and the workspace (or organisation) the token is for, whose messages it posts.
   */
  async start(service: SlackService): Promise<{ port: number | null; scope: Scope }> {
    this.service = service;
    try {
      await this.app.init();
    } catch (error) {
      throw tokenRefusal(error);
    }
    this.installation = await this.identify();
    if (this.options.appToken) {
      try {
        await this.app.start();
      } catch (error) {
        throw new Error(
          `Could not open a Socket Mode connection with SLACK_APP_TOKEN (${describe(error)}).`,
        );
      }
      this.started = true;
      this.options.log.info({ mode: 'socket' }, 'Slack connected (Socket Mode)');
      this.catchUp(service, this.installation);
      return { port: null, scope: this.installation.scope };
    }
    const server = await this.listenHttp();
    this.started = true;
    const port = (server.address() as AddressInfo).port;
    this.options.log.info({ mode: 'http', port }, 'Slack listening on POST /slack/events');
    this.catchUp(service, this.installation);
    return { port, scope: this.installation.scope };
  }

  /**
   * Rereads the open rounds in the background: what members did while the bot was down
   * is lost once Slack's few retries are over. Tracked, so stop() waits for it as for events.
   */
  private catchUp(
    service: SlackService,
    installation: Installation,
    onlyChannel: string | null = null,
  ): void {
    const { log } = this.options;
    const catchUp = new SlackCatchUp({
      client: this.app.client,
      service,
      log,
      now: Date.now,
      botUserId: installation.botUserId,
      isBot: (user) => this.bots.isBot(user),
      tell: (channel, user, text, threadTs) =>
        this.port.tell(channel, user, escapeKeepingMentions(text), threadTs),
      channelAccess: (channel) => this.port.channelAccess(channel),
      botRemoved: (scope, channel) =>
        tellBotRemoved(
          scope,
          channel,
          this.deps(),
          { during: 'catch-up' },
          REMOVAL_REMINDER_SECONDS,
        ),
      channelClosed: (scope, channel) =>
        cancelForChannelClosed(scope, channel, this.deps(), { during: 'catch-up' }),
      stopping: () => !this.started,
      ...(this.options.catchUpLimits && { limits: this.options.catchUpLimits }),
    });
    void this.track(
      catchUp.workspace(installation.scope, onlyChannel).catch((error: unknown) => {
        log.error({ error: describe(error) }, 'could not catch up on the open rounds');
        // Redis still away: the replies the reread was for are lost unless it runs again.
        this.rereadLater(error, 'the open rounds will be reread again');
      }),
    );
  }

  /**
   * An event is acknowledged before it is handled (Slack waits 3 s at most), so one whose
   * handling failed (a Redis error, say) is not sent again, and the reply or reaction
   * would be lost until the next start's catch-up. A failure sets off that reread a
   * little later instead, once for a burst of failures.
   */
  private async rereadOnFailure(handle: () => Promise<void>): Promise<void> {
    try {
      await handle();
    } catch (error) {
      this.rereadLater(error, 'a Slack event could not be handled; the open rounds will be reread');
      throw error;
    }
  }

  /** Sets off a reread of the open rounds a little later, once for a burst of failures. */
  private rereadLater(error: unknown, message: string): void {
    const { service, installation } = this;
    if (this.rereadTimer !== null || !service || !installation || !this.started) return;
    const afterMs =
      this.options.catchUpLimits?.afterFailureMs ?? SLACK_CATCH_UP_LIMITS.afterFailureMs;
    this.rereadTimer = setTimeout(() => {
      this.rereadTimer = null;
      if (this.started) this.catchUp(service, installation);
    }, afterMs);
    this.rereadTimer.unref();
    this.options.log.warn({ error: describe(error), rereadInMs: afterMs }, message);
  }

  /** Stops taking events, then lets work already taken finish (up to `timeoutMs`). */
  async stop(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (this.rereadTimer) clearTimeout(this.rereadTimer);
    this.rereadTimer = null;
    if (this.started) {
      this.started = false;
      const closing = this.server ? this.closeHttp(timeoutMs) : this.app.stop();
      await closing.catch((error: unknown) => {
        this.options.log.warn({ error: describe(error) }, 'Slack receiver did not stop cleanly');
      });
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.idle(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
  }

  /**
   * HTTP mode's listener: the exact GET (and HEAD) routes of `options.routes`, then
   * Bolt's receiver for /slack/events, which checks signatures and answers 404 to the rest.
   */
  private async listenHttp(): Promise<Server> {
    const receiver = this.receiver;
    if (!receiver) throw new Error('not in HTTP mode');
    const routes = new Map(
      (this.options.routes ?? [{ path: '/healthz', handler: plainOk }]).map((r) => [
        r.path,
        r.handler,
      ]),
    );
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const route = routes.get(path);
      if (route && (req.method === 'GET' || req.method === 'HEAD')) return route(req, res);
      if (req.method === 'POST' && isFutureDated(req.headers['x-slack-request-timestamp'])) {
        // Bolt refuses only old timestamps; Slack's rule is five minutes either way. Logged
        // as Bolt logs a stale one: a clock behind Slack's refuses every request.
        this.options.log.warn(
          { component: 'slack-http' },
          'request timestamp in the future: refused (is this machine’s clock behind?)',
        );
        res
          .writeHead(401, { 'content-type': 'text/plain' })
          .end('request timestamp in the future\n');
        return;
      }
      try {
        receiver.requestListener(req, res);
      } catch (error) {
        // The receiver throws for a path it does not serve, for its caller to route on.
        if (res.headersSent) return;
        const unknownPath =
          (error as { code?: unknown } | null)?.code === ErrorCode.HTTPReceiverDeferredRequestError;
        res.writeHead(unknownPath ? 404 : 500, { 'content-type': 'text/plain' });
        res.end(unknownPath ? 'not found\n' : 'internal error\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return server;
  }

  /**
   * Stops listening and lets requests in progress end, but not for ever: a client that
   * holds a half-sent request must not keep the rest of the shutdown from starting.
   */
  private async closeHttp(timeoutMs: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      closed,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.min(timeoutMs, HTTP_CLOSE_GRACE_MS));
      }),
    ]);
    clearTimeout(timer);
    server.closeAllConnections();
  }

  /** Resolves once every event and command taken so far has been handled. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.inflight.add(settled);
    void settled.then(() => this.inflight.delete(settled));
    return work;
  }

  /** Work that runs after the acknowledgement, so Slack never waits on Redis or models. */
  private queue(what: string, work: () => Promise<void>): void {
    void this.track(
      work().catch((error: unknown) => {
        this.options.log.error({ what, error: describe(error) }, 'Slack work failed');
      }),
    );
  }

  /** Help and usage are answered here; everything else runs against the service. */
  private async commandReply(parsed: ParsedCommand, input: CommandInput): Promise<Reply | null> {
    if (parsed.kind === 'invalid') return { text: parsed.message };
    if (parsed.kind === 'help') return helpReply(input.command);
    return runCommand(parsed, input, this.deps());
  }

  private deps(): CommandDeps {
    if (!this.service) throw new Error('the Slack adapter was not started');
    return {
      service: this.service,
      port: this.port,
      moderators: this.moderators,
      bots: this.bots,
      log: this.options.log,
    };
  }

  /**
   * A response_url from a form's metadata is only followed to Slack's hooks host (or the
   * Web API's own host: a proxy, or the fake in tests). Only this app writes that
   * metadata, in requests Slack signs; the check keeps a bug from sending answers elsewhere.
   */
  private isResponseUrl(url: string): boolean {
    const parsed = z.url({ protocol: /^https?$/ }).safeParse(url);
    if (!parsed.success) return false;
    const target = new URL(parsed.data);
    if (target.origin === new URL(this.options.apiUrl).origin) return true;
    return (
      target.protocol === 'https:' &&
      (target.hostname === 'hooks.slack.com' || target.hostname === 'hooks.slack-gov.com')
    );
  }

  /** The workspace of the bot token, from auth.test. */
  private async identify(): Promise<Installation> {
    let answer: unknown;
    try {
      answer = await this.app.client.auth.test();
    } catch (error) {
      throw tokenRefusal(error);
    }
    const parsed = AuthTestSchema.safeParse(answer);
    const teamId = (parsed.success && parsed.data.team_id) || null;
    const enterpriseId = (parsed.success && parsed.data.enterprise_id) || null;
    // An org-wide installation has no single team: its organisation is the scope.
    const workspaceId = teamId ?? enterpriseId;
    if (!workspaceId || !KeySafeIdSchema.safeParse(workspaceId).success) {
      throw new Error('Slack did not say which workspace SLACK_BOT_TOKEN belongs to (auth.test).');
    }
    const botUserId = (parsed.success && parsed.data.user_id) || null;
    const orgWide =
      teamId === null || (parsed.success && parsed.data.is_enterprise_install === true);
    return {
      scope: { platform: 'slack', workspaceId },
      teamId,
      enterpriseId,
      orgWide,
      botUserId,
    };
  }

  /**
   * The scope of a command or an interaction, or a refusal for the member. Their team
   * fields name the member's team. One signing secret serves every installation of the
   * app, so another workspace's commands and clicks reach this process too, with the same
   * channel and user ids perhaps: those are refused. A Slack Connect partner's member
   * names their own team as well, but in a channel shared with this workspace, which the
   * bot token sees as shared; their round is this workspace's.
   */
  private async admit(
    team: PayloadTeam,
    channel: string | null,
  ): Promise<{ scope: Scope } | { refusal: string }> {
    const ours = this.installation;
    if (!ours) return { refusal: 'This workspace could not be identified.' };
    if (servesTeam(ours, team)) return { scope: ours.scope };
    if (!channel) return { refusal: NOT_SERVED };
    const sharing = await this.sharedChannels.sharing(channel);
    if (sharing === 'shared') return { scope: ours.scope };
    this.options.log.info(
      { team: team.teamId ?? team.enterpriseId, sharing },
      'command or interaction for another workspace refused',
    );
    return { refusal: sharing === 'unknown' ? NOT_CHECKED : NOT_SERVED };
  }

  /** The scope when `team` is this installation's own: known without asking Slack. */
  private ownScope(team: PayloadTeam): Scope | null {
    const ours = this.installation;
    return ours && servesTeam(ours, team) ? ours.scope : null;
  }

  /** An ephemeral note through an interaction's response_url, if it has a usable one. */
  private async answerThrough(url: string | null | undefined, text: string): Promise<void> {
    if (url && this.isResponseUrl(url)) await this.port.respond(url, text);
  }

  /**
   * The scope of an Events API delivery, or null when it is for another installation of
   * the app (a distributed app whose events reach this URL too). In a shared (Slack
   * Connect) channel the envelope's team_id is the team that owns the channel, which may
   * be another organisation's; `authorizations` names the installation it is delivered for.
   * An org-wide installation's deliveries name the workspace the event happened in as well
   * as the organisation (Slack's sample payload), so for it the organisation decides, as
   * for its commands: by the team, every event of an org-wide install was dropped.
   */
  private eventScope(envelope: z.infer<typeof EnvelopeSchema>): Scope | null {
    const ours = this.installation;
    if (!ours) return null;
    const auth = envelope.authorizations?.[0];
    const teamId = auth ? (auth.team_id ?? null) : (envelope.team_id ?? null);
    const enterpriseId = auth ? (auth.enterprise_id ?? null) : (envelope.enterprise_id ?? null);
    if (ours.orgWide) return servesTeam(ours, { teamId, enterpriseId }) ? ours.scope : null;
    if (teamId !== null) return teamId === ours.teamId ? ours.scope : null;
    return enterpriseId !== null && enterpriseId === ours.enterpriseId ? ours.scope : null;
  }

  private register(): void {
    const { app } = this;
    const log = this.options.log;
    // First in the chain, so work is tracked before Slack has even seen the acknowledgement.
    app.use(async ({ next }) => {
      await this.track(next());
    });
    app.error(async (error) => {
      log.error({ error: describe(error) }, 'Slack listener failed');
    });

    app.command(/^\/\S+$/, async ({ command, ack, respond }) => {
      const ephemeral = (reply: Reply) => ({ response_type: 'ephemeral' as const, ...reply });
      const parsed = parseCommand(command.text ?? '', command.command);
      const team = commandTeam(command);
      const input = (scope: Scope): CommandInput => ({
        scope,
        channelId: command.channel_id,
        userId: command.user_id,
        command: command.command,
        triggerId: command.trigger_id ?? null,
        responseUrl: command.response_url ?? null,
      });
      const scope = this.ownScope(team);
      if (!scope) {
        // Whether another team is served may take a Web API call: after the acknowledgement.
        await ack();
        this.queue(`command ${parsed.kind} from another team`, async () => {
          const admitted = await this.admit(team, command.channel_id);
          const reply =
            'refusal' in admitted
              ? { text: admitted.refusal }
              : await this.commandReply(parsed, input(admitted.scope));
          if (reply) await respond(ephemeral(reply));
        });
        return;
      }
      if (parsed.kind === 'invalid' || parsed.kind === 'help') {
        // Answered in the acknowledgement: nothing to wait for.
        const reply = await this.commandReply(parsed, input(scope));
        await ack(reply ? ephemeral(reply) : undefined);
        return;
      }
      await ack();
      this.queue(`command ${parsed.kind}`, async () => {
        const reply = await this.commandReply(parsed, input(scope));
        if (reply) await respond(ephemeral(reply));
      });
    });

    app.view(START_MODAL_ID, async ({ ack, body, view }) => {
      const form = readStartForm(view);
      if (!form.ok) {
        await ack({ response_action: 'errors', errors: form.errors });
        return;
      }
      await ack();
      const userId = body.user.id;
      this.queue('start form', async () => {
        const admitted = await this.admit(interactionTeam(body), form.channelId);
        if ('refusal' in admitted) {
          // Never chat.postEphemeral: the same user id may be someone else in this workspace.
          await this.answerThrough(form.responseUrl, admitted.refusal);
          return;
        }
        const { scope } = admitted;
        const text = await startFromForm(
          {
            scope,
            channelId: form.channelId,
            userId,
            command: '/consensus',
            triggerId: null,
            responseUrl: null,
            question: form.question,
            settings: form.settings,
          },
          this.deps(),
        );
        // chat.postEphemeral fails in a channel the bot is not in and in DMs, exactly
        // where the answer matters most; the command's response_url works everywhere.
        const url = form.responseUrl;
        if (url && this.isResponseUrl(url) && (await this.port.respond(url, text))) return;
        await this.port.tell(form.channelId, userId, text, null);
      });
    });

    const metaOf = (body: unknown, context: { botUserId?: string }): EventMeta | null => {
      const envelope = EnvelopeSchema.safeParse(body);
      const env = envelope.success ? envelope.data : {};
      const scope = this.eventScope(env);
      if (!scope) {
        log.debug(
          { team: env.authorizations?.[0]?.team_id ?? env.team_id },
          'event for another installation dropped',
        );
        return null;
      }
      return {
        scope,
        eventId: env.event_id ?? null,
        botUserId: context.botUserId ?? null,
      };
    };
    app.event('message', async ({ event, body, context }) => {
      const meta = metaOf(body, context);
      if (meta) await this.rereadOnFailure(() => onMessage(event, meta, this.deps()));
    });
    app.action({ block_id: RATE_BLOCK_PATTERN }, async ({ ack, body, context }) => {
      await ack();
      this.queue('rating button', async () => {
        const place = InteractionPlaceSchema.safeParse(body);
        const where = place.success ? place.data : {};
        const channel = where.channel?.id ?? where.container?.channel_id ?? null;
        const admitted = await this.admit(interactionTeam(body), channel);
        if ('refusal' in admitted) {
          await this.answerThrough(where.response_url, admitted.refusal);
          return;
        }
        const meta = { scope: admitted.scope, botUserId: context.botUserId ?? null };
        await onRateAction(body, meta, this.deps());
      });
    });
    for (const name of ['reaction_added', 'reaction_removed'] as const) {
      app.event(name, async ({ event, body, context }) => {
        const meta = metaOf(body, context);
        if (meta) await this.rereadOnFailure(() => onReaction(event, meta, this.deps()));
      });
    }
    for (const name of CHANNEL_GONE_EVENTS) {
      app.event(name, async ({ event, body, context }) => {
        const meta = metaOf(body, context);
        if (meta) await onChannelGone(event, meta, this.deps());
      });
    }
    // Invited back where it had been removed: what members said meanwhile never reached the
    // bot, so that channel's open rounds are reread, as at start.
    app.event('member_joined_channel', async ({ event, body, context }) => {
      const meta = metaOf(body, context);
      const { service, installation } = this;
      if (!meta || !service || !installation || !isBotJoining(event, meta)) return;
      log.info({ channel: event.channel }, 'the bot joined a channel; rereading its open rounds');
      // The reread finds the bot a member again, so a next removal is told anew.
      this.catchUp(service, installation, event.channel);
    });
  }
}

/**
 * Why auth.test failed at start, naming what to fix: the token when Slack answered and
 * refused it, the address when no answer came at all (the token was never checked).
 */
function tokenRefusal(error: unknown): Error {
  const unreachable =
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    error.code === webApi.ErrorCode.RequestError;
  return new Error(
    unreachable
      ? `Could not reach Slack's Web API (${describe(error)}): check the network, or SLACK_API_URL if it is set.`
      : `Slack did not accept SLACK_BOT_TOKEN (${describe(error)}).`,
  );
}
