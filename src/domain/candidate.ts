import { z } from 'zod';

export const CandidateSourceSchema = z.enum(['opinion', 'composition', 'llm', 'revision']);

export const CandidateSchema = z.object({
  id: z.string().min(1),
  text: z.string().min(1),
  source: CandidateSourceSchema,
  /** Why the generator produced it (the model's explanation, or how it was composed). */
  explanation: z.string().nullable(),
});
export type Candidate = z.infer<typeof CandidateSchema>;

/**
 * Predicted approval in [0,1] of every participant for every candidate:
 * approvals[candidateIndex][participantIndex]; null = not predicted (the model failed
 * for that member), which selection leaves out rather than guessing.
 */
export const ApprovalMatrixSchema = z.object({
  participants: z.array(z.string().min(1)),
  candidates: z.array(z.string().min(1)),
  approvals: z.array(z.array(z.number().min(0).max(1).nullable())),
  /**
   * Opinion group per participant (-1: in none), when the reward model learned groups;
   * bridging welfare bridges them. Absent: no groups are known.
   */
  groups: z.array(z.number().int().min(-1)).optional(),
});
export type ApprovalMatrix = z.infer<typeof ApprovalMatrixSchema>;
