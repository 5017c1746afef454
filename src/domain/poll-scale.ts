import { z } from 'zod';

/**
 * How members rate a statement. `approval3` matches Polis votes (agree / pass /
 * disagree = 1 / 0.5 / 0); `likert7` is the studies' 7-point agreement scale.
 * Adapters map their own emoji or buttons onto these option keys.
 */
export const PollScaleSchema = z.enum(['approval3', 'likert7']);
export type PollScale = z.infer<typeof PollScaleSchema>;

export interface PollOption {
  key: string;
  label: string;
  approval: number;
}

const SCALES: Record<PollScale, readonly PollOption[]> = {
  approval3: [
    { key: 'agree', label: 'agree', approval: 1 },
    { key: 'unsure', label: 'unsure', approval: 0.5 },
    { key: 'disagree', label: 'disagree', approval: 0 },
  ],
  likert7: [1, 2, 3, 4, 5, 6, 7].map((k) => ({
    key: String(k),
    label: `${k}/7`,
    approval: (k - 1) / 6,
  })),
};

/**
 * What the ends of a numbered scale mean, for its legend ("1/7 … 7/7" says neither which
 * end agrees nor that 4 is neutral); null for a scale whose labels say it.
 */
export function scaleAnchors(options: readonly PollOption[]): string | null {
  if (!options.every((o) => /^\d+$/.test(o.key))) return null;
  const first = options[0];
  const last = options.at(-1);
  if (!first || !last) return null;
  return `${first.label} = disagree strongly, ${last.label} = agree strongly`;
}

export function pollOptions(scale: PollScale): readonly PollOption[] {
  return SCALES[scale];
}

export function optionFor(scale: PollScale, key: string): PollOption | undefined {
  return SCALES[scale].find((o) => o.key === key);
}

/** An option's label in whichever scale has its key (keys are unique across scales). */
export function optionLabel(key: string): string {
  for (const scale of PollScaleSchema.options) {
    const option = optionFor(scale, key);
    if (option) return option.label;
  }
  return key;
}

/** The option whose approval is nearest to `approval` (for simulated members). */
export function nearestOption(scale: PollScale, approval: number): PollOption {
  let best = SCALES[scale][0] as PollOption;
  for (const option of SCALES[scale]) {
    if (Math.abs(option.approval - approval) < Math.abs(best.approval - approval)) best = option;
  }
  return best;
}
