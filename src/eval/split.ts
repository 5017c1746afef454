/** The train/test split of EVAL.md section 2, identical in every language. */

const encoder = new TextEncoder();

/** 32-bit FNV-1a over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let h = 2166136261;
  for (const byte of encoder.encode(text)) {
    h ^= byte;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h >>> 0;
}

/** A vote held out for tasks A-C. */
export function isTestVote(voterId: string, commentId: string): boolean {
  return fnv1a32(`${voterId}:${commentId}`) % 5 === 0;
}

/** A comment whose every vote is held out for task D (cold start). */
export function isNewComment(commentId: string): boolean {
  return fnv1a32(`c:${commentId}`) % 5 === 0;
}
