import { hasWords } from '../domain/opinion.js';

/**
 * A reply that is nothing but mentions ("@ana", "@ben @cy ?") calls someone into the
 * thread; it says nothing the statement writer could use, and counting it as an opinion
 * would let pings alone reach a round's minimum. `mention` matches the platform's
 * mention tokens (global flag); what is left must have words (`hasWords`).
 */
export function onlyMentions(raw: string, mention: RegExp): boolean {
  const rest = raw.replace(mention, ' ');
  return rest !== raw && !hasWords(rest);
}
