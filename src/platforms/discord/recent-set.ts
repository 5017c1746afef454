/**
 * A bounded memory of keys seen lately. Discord redelivers interactions and the bot tells a
 * member a notice once; both only need to recognise a recent repeat, not keep every key.
 */

/** Remembers the last `capacity` keys; `add` says whether a key is new. */
export class RecentSet {
  private readonly keys = new Set<string>();
  constructor(private readonly capacity: number) {}
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.capacity) {
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    return true;
  }
}
