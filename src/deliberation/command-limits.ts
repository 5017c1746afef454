/**
 * The limits on running commands: every command a member runs counts against a
 * per-member and a per-workspace rate a minute, and an export, which posts five files (or
 * a whole workspace), against stricter hourly rates besides. Like the start limits they
 * guard against load and spam, so they sit apart from the rules of a round; adapters ask
 * before they run a command, and a refusal reaches only the member who ran it.
 */
import type { CommandLimits } from '../domain/limits.js';
import type { Log } from '../domain/log.js';
import { placeName, type Scope } from '../domain/scope.js';
import type { Store } from '../store/store.js';
import { count, enforceRates, type Rate } from './rate-checks.js';

/** A command about to run, as the limits see it. */
export interface CommandRequest {
  scope: Scope;
  userId: string;
  /** The subcommand, for the log line. */
  command: string;
  /** An export of a round or of the workspace: counted against the export rates too. */
  isExport: boolean;
}

/**
 * The member's rate first, then the workspace's, then for an export the export rates in
 * the same order; the first exceeded refuses the command and the later ones are not
 * counted. Throws DomainError `rate_limited` with how long to wait.
 */
export async function checkCommandLimits(
  deps: { store: Store; log: Log; limits: CommandLimits },
  request: CommandRequest,
): Promise<void> {
  const { limits } = deps;
  const place = placeName(request.scope);
  const rates: Rate[] = [
    {
      setting: 'LIMIT_COMMANDS_PER_MEMBER_PER_MINUTE',
      bucket: `commands:member:${request.userId}`,
      max: limits.commandsPerMemberPerMinute,
      windowSeconds: 60,
      refusal: (max) =>
        `You have run ${count(max, 'command')} in the past minute, the most allowed`,
    },
    {
      setting: 'LIMIT_COMMANDS_PER_WORKSPACE_PER_MINUTE',
      bucket: 'commands:workspace',
      max: limits.commandsPerWorkspacePerMinute,
      windowSeconds: 60,
      refusal: (max) =>
        `This ${place} has run ${count(max, 'command')} in the past minute, the most allowed`,
    },
  ];
  if (request.isExport) {
    rates.push(
      {
        setting: 'LIMIT_EXPORTS_PER_MEMBER_PER_HOUR',
        bucket: `exports:member:${request.userId}`,
        max: limits.exportsPerMemberPerHour,
        windowSeconds: 3_600,
        refusal: (max) =>
          `You have asked for ${count(max, 'export')} in the past hour, the most allowed`,
      },
      {
        setting: 'LIMIT_EXPORTS_PER_WORKSPACE_PER_HOUR',
        bucket: 'exports:workspace',
        max: limits.exportsPerWorkspacePerHour,
        windowSeconds: 3_600,
        refusal: (max) =>
          `This ${place} has asked for ${count(max, 'export')} in the past hour, the most allowed`,
      },
    );
  }
  await enforceRates(
    deps,
    { scope: request.scope, userId: request.userId, action: request.command },
    rates,
  );
}
