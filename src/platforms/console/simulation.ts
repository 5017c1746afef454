import { nearestOption, type PollScale } from '../../domain/poll-scale.js';
import { gaussian, type Rng } from '../../domain/random.js';

/**
 * A simulated member's reaction: their predicted approval plus seeded noise, snapped to
 * the nearest option of the scale. Noise stands in for what the model cannot know.
 */
export function simulatedReaction(
  predicted: number | null,
  scale: PollScale,
  rng: Rng,
  noise = 0.15,
): string {
  const base = predicted ?? 0.5;
  const approval = Math.min(1, Math.max(0, base + gaussian(rng) * noise));
  return nearestOption(scale, approval).key;
}
