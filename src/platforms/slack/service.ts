import type { PlatformService } from '../../deliberation/ports.js';

/** The part of the deliberation service the Slack adapter calls. */
export type SlackService = PlatformService;
