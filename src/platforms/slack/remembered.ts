/**
 * Answers from the Slack Web API that rarely change (a member's role, whether a channel
 * is shared, whether a user is a bot), asked once per key and remembered for a while:
 * every command, click or reaction would otherwise cost a rate-limited call.
 */
export interface RememberedOptions<V> {
  lookUp: (key: string) => Promise<V>;
  /** How long an answer is trusted. */
  ttlMs: number;
  /** How many answers are kept; the oldest goes first. */
  maxEntries: number;
  /** An answer that says nothing (Slack could not be asked) is not kept, so the next one asks again. */
  keep?: (value: V) => boolean;
  now?: () => number;
}

export class Remembered<V> {
  private readonly answers = new Map<string, { value: V; at: number }>();
  /** Questions under way: a burst for one key asks Slack once. */
  private readonly asking = new Map<string, Promise<V>>();
  private readonly now: () => number;

  constructor(private readonly options: RememberedOptions<V>) {
    this.now = options.now ?? Date.now;
  }

  /** The remembered answer, or a fresh one; a lookup that fails rejects and is not kept. */
  get(key: string): Promise<V> {
    const known = this.answers.get(key);
    if (known && this.now() - known.at < this.options.ttlMs) return Promise.resolve(known.value);
    this.answers.delete(key);
    return this.asking.get(key) ?? this.ask(key);
  }

  private ask(key: string): Promise<V> {
    const asking = this.options
      .lookUp(key)
      .then((value) => {
        if (this.options.keep?.(value) ?? true) this.remember(key, value);
        return value;
      })
      .finally(() => this.asking.delete(key));
    this.asking.set(key, asking);
    return asking;
  }

  private remember(key: string, value: V): void {
    this.answers.set(key, { value, at: this.now() });
    // A Map iterates in insertion order: the first key is the oldest answer.
    while (this.answers.size > this.options.maxEntries) {
      const oldest = this.answers.keys().next().value;
      if (oldest === undefined) break;
      this.answers.delete(oldest);
    }
  }
}
