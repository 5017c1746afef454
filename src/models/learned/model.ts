import { z } from 'zod';
import type { SparseVector } from '../text/tfidf.js';
import {
  type Factorisation,
  fitFactorisation,
  predictFactorisation,
  type SparseRatings,
} from './factorisation.js';
import { cosine, textVectors } from './text-similarity.js';

export const LearnedInputSchema = z.object({
  members: z.array(z.object({ id: z.string().min(1), text: z.string().nullish() })),
  statements: z.array(
    z.object({ id: z.string().min(1), text: z.string(), authorId: z.string().nullish() }),
  ),
  ratings: z.array(
    z.object({
      member: z.string().min(1),
      statement: z.string().min(1),
      approval: z.number().min(0).max(1),
    }),
  ),
});
export type LearnedInput = z.infer<typeof LearnedInputSchema>;

export interface LearnedOptions {
  factors: number;
  lambdaBias: number;
  lambdaFactor: number;
  seed: number;
  knnWeight: number;
  knnNeighbours: number;
  knnShrink: number;
  textShrink: number;
  authorWeight: number;
  personalTextWeight: number;
  selfApproval: number;
}

export const DEFAULT_LEARNED_OPTIONS: LearnedOptions = {
  factors: 2,
  lambdaBias: 0.05,
  lambdaFactor: 0.05,
  seed: 0,
  knnWeight: 0.5,
  knnNeighbours: 30,
  knnShrink: 10,
  textShrink: 0.5,
  authorWeight: 1,
  personalTextWeight: 1,
  selfApproval: 1,
};
