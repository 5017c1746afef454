import type { Actor } from '../../deliberation/ports.js';
import type { Log } from '../../domain/log.js';
import { describe } from './port.js';

/** users.info is cheap but rate-limited; an admin's status rarely changes within minutes. */
const ADMIN_TTL_MS = 10 * 60_000;
const CACHED_USERS = 5_000;

export interface ModeratorOptions {
  /** SLACK_MODERATORS; null = not configured, so anyone may start a round. */
  moderatorIds: readonly string[] | null;
  isAdmin: (userId: string) => Promise<boolean>;
  log: Log;
  now?: () => number;
}

/**
 * Who may do what: configured moderators and workspace admins/owners moderate every round;
 * the member who started a round moderates that round (the service checks that part).
 */
export class Moderators {
  private readonly ids: ReadonlySet<string> | null;
  private readonly admins = new Map<string, { admin: Promise<boolean>; until: number }>();
  private readonly now: () => number;

  constructor(private readonly options: ModeratorOptions) {
    this.ids = options.moderatorIds === null ? null : new Set(options.moderatorIds);
    this.now = options.now ?? Date.now;
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

  private async isModerator(workspaceId: string, userId: string): Promise<boolean> {
    if (this.ids?.has(userId)) return true;
    const key = `${workspaceId}/${userId}`;
    const cached = this.admins.get(key);
    if (cached && cached.until > this.now()) return cached.admin;
    // Two commands at once from one member ask Slack once.
    const lookup = this.options.isAdmin(userId).catch((error: unknown) => {
      // Unknown is not admin; forgotten at once, so the next command asks again.
      this.options.log.warn({ error: describe(error) }, 'users.info failed; treating as member');
      this.admins.delete(key);
      return false;
    });
    this.admins.delete(key);
    this.admins.set(key, { admin: lookup, until: this.now() + ADMIN_TTL_MS });
    if (this.admins.size > CACHED_USERS) {
      const oldest = this.admins.keys().next().value;
      if (oldest !== undefined) this.admins.delete(oldest);
    }
    return lookup;
  }
}
