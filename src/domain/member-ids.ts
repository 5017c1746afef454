/**
 * `text` with every whole occurrence of one of `ids` replaced by "a member": for text
 * an anonymous round shows (a failure reason) that was written without knowing who is
 * in the round. Longest id first, so "U12" cannot eat into "U123"; an id inside a
 * longer word ("U12" in "U12X") is not an occurrence.
 */
export function replaceMemberIds(text: string, ids: readonly string[]): string {
  let out = text;
  const byLength = ids.filter((id) => id.length > 0).sort((a, b) => b.length - a.length);
  for (const id of byLength) {
    const escaped = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`(?<![A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`, 'g'), 'a member');
  }
  return out;
}
