import { z } from 'zod';

export const PlatformSchema = z.enum(['slack', 'discord', 'console']);
export type Platform = z.infer<typeof PlatformSchema>;

/** Ids that end up inside Redis keys and BullMQ job ids: no ':' and no spaces. */
export const KeySafeIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._@-]+$/, 'ids may hold letters, digits and . _ @ - only');

/**
 * Where a round lives: one Slack workspace or one Discord guild. Everything the bot
 * stores is namespaced by scope so tenants sharing a Redis never see each other.
 */
export const ScopeSchema = z.object({
  platform: PlatformSchema,
  workspaceId: KeySafeIdSchema,
});
export type Scope = z.infer<typeof ScopeSchema>;

export function scopeKey(scope: Scope): string {
  return `${scope.platform}.${scope.workspaceId}`;
}

/** What members call a scope in messages to them: Discord's workspaces are servers. */
export function placeName(scope: Scope): 'server' | 'workspace' {
  return scope.platform === 'discord' ? 'server' : 'workspace';
}
