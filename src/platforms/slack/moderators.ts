import type { Actor } from '../../deliberation/ports.js';
import type { Log } from '../../domain/log.js';
import { describe, type WorkspaceRole } from './port.js';
import { Remembered } from './remembered.js';

/** users.info is cheap but rate-limited; a member's role rarely changes within minutes. */
const ROLE_TTL_MS = 10 * 60_000;
const CACHED_USERS = 5_000;

export interface ModeratorOptions {
  /** SLACK_MODERATORS; null = not configured, so anyone may start a round. */
  moderatorIds: readonly string[] | null;
  /** The member's role in the workspace `teamId` (users.info). */
  workspaceRole: (userId: string, teamId: string) => Promise<WorkspaceRole>;
  log: Log;
  now?: () => number;
}

/**
 * Who may do what: configured moderators and workspace admins/owners moderate every round;
 * the member who started a round moderates that round (the service checks that part).
 * Exporting the whole workspace is narrower (see `forWorkspaceExport`).
 */
export class Moderators {
  private readonly ids: ReadonlySet<string> | null;
  /** By `workspace/user`. */
  private readonly roles: Remembered<WorkspaceRole>;

  constructor(private readonly options: ModeratorOptions) {
    this.ids = options.moderatorIds === null ? null : new Set(options.moderatorIds);
    this.roles = new Remembered({
      lookUp: (key) => {
        const [workspaceId = '', userId = ''] = key.split('/');
        return options.workspaceRole(userId, workspaceId);
      },
      ttlMs: ROLE_TTL_MS,
      maxEntries: CACHED_USERS,
      ...(options.now && { now: options.now }),
    });
  }

  /** The actor for starting a round: asks Slack only when a moderator list restricts starts. */
  async forStart(workspaceId: string, userId: string): Promise<Actor> {
    if (this.ids === null) return { userId, moderator: false, mayStart: true };
    const moderator = await this.isModerator(workspaceId, userId);
    return { userId, moderator, mayStart: moderator };
  }

  /** The actor for close, critique, finish and cancel. */
  async forModeration(workspaceId: string, userId: string): Promise<Actor> {
    const moderator = await this.isModerator(workspaceId, userId);
    return { userId, moderator, mayStart: this.ids === null || moderator };
  }

  /**
   * The actor for `export all`, a moderator only when listed in SLACK_MODERATORS or an
   * owner of the workspace. Slack's admins cannot read private channels they are not in,
   * so being one must not hand them those channels' rounds; owners answer for the
   * workspace and its data.
   */
  async forWorkspaceExport(workspaceId: string, userId: string): Promise<Actor> {
    const listed = this.ids?.has(userId) ?? false;
    const moderator = listed || (await this.roleOf(workspaceId, userId)) === 'owner';
    return { userId, moderator, mayStart: this.ids === null || moderator };
  }

  private async isModerator(workspaceId: string, userId: string): Promise<boolean> {
    if (this.ids?.has(userId)) return true;
    return (await this.roleOf(workspaceId, userId)) !== 'member';
  }

  private roleOf(workspaceId: string, userId: string): Promise<WorkspaceRole> {
    return this.roles.get(`${workspaceId}/${userId}`).catch((error: unknown): WorkspaceRole => {
      // Unknown is a plain member; not remembered, so the next command asks again.
      this.options.log.warn({ error: describe(error) }, 'users.info failed; treating as member');
      return 'member';
    });
  }
}
