import type { webApi } from '@slack/bolt';
import type { PlatformPort } from '../deliberation/ports.js';
import type { Log } from '../domain/log.js';
import type { Scope } from '../domain/scope.js';
import { type HttpRoute, SlackAdapter } from '../platforms/slack/app.js';
import type { SlackCatchUpLimits } from '../platforms/slack/catch-up.js';
import type { SlackService } from '../platforms/slack/service.js';
import type { SlackConfig } from './slack-config.js';

export interface SlackConnection {
  /** Give to createRuntime as `platforms: { slack: port }`: the publish worker posts through it. */
  port: PlatformPort;
  /**
   * Connects (auth.test, then Socket Mode or the HTTP listener) and routes events and
   * commands to `service`; resolves with the HTTP port (null in Socket Mode) and the
   * token's workspace, whose publish jobs the runtime must then take (`publishFor`).
   */
  start(service: SlackService): Promise<{ port: number | null; scope: Scope }>;
  /** Stops taking events and waits (up to `timeoutMs`) for those already taken. */
  stop(timeoutMs?: number): Promise<void>;
  /** Resolves once every event and command taken so far has been handled (tests). */
  idle(): Promise<void>;
}

export interface SlackDeps {
  log: Log;
  /** Web API retry policy; tests shorten it. */
  retry?: webApi.RetryOptions;
  /** HTTP mode: GET routes served beside /slack/events. */
  routes?: readonly HttpRoute[];
  /** Bounds on rereading the open rounds at start; tests make them small. */
  catchUpLimits?: Partial<SlackCatchUpLimits>;
}

/**
 * The Slack connection from its settings. Building it contacts nobody, so the port can go
 * into the runtime before the service that `start` needs exists.
 */
export function createSlack(config: SlackConfig, deps: SlackDeps): SlackConnection {
  const adapter = new SlackAdapter({
    botToken: config.botToken,
    appToken: config.appToken,
    signingSecret: config.signingSecret,
    apiUrl: config.apiUrl,
    port: config.port,
    moderatorIds: config.moderatorIds,
    log: deps.log.child({ platform: 'slack' }),
    retry: deps.retry,
    routes: deps.routes,
    catchUpLimits: deps.catchUpLimits,
  });
  return {
    port: adapter.port,
    start: (service) => adapter.start(service),
    stop: (timeoutMs) => adapter.stop(timeoutMs),
    idle: () => adapter.idle(),
  };
}
