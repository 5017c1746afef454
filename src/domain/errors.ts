/**
 * A rule of the deliberation was broken. `code` is stable and machine-readable so
 * adapters can choose wording; `message` is already fit to show a user.
 */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export type DomainErrorCode =
  | 'invalid_input'
  | 'illegal_transition'
  | 'not_enough_opinions'
  | 'not_found'
  | 'forbidden'
  | 'poll_closed'
  | 'conflict'
  /** Too many commands, exports or starts in a window (LIMIT_*); the message says when to retry. */
  | 'rate_limited'
  /** A cap on what may exist at once (MAX_OPEN_ROUNDS_PER_CHANNEL). */
  | 'limit_reached';

/** Any thrown value in one line, fit for a log or an operator's message. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
