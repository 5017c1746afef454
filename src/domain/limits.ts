/** Size limits that every adapter and the service share. */
export const LIMITS = {
  questionMaxChars: 500,
  opinionMaxChars: 4_000,
  critiqueMaxChars: 4_000,
  minOpinionsToClose: 2,
  minCandidates: 1,
  maxCandidates: 16,
  defaultCandidates: 8,
  maxMinutes: 7 * 24 * 60,
} as const;
