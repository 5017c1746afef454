import type { ApprovalMatrix, Candidate } from '../domain/candidate.js';
import type { LearnedInput } from './learned/model.js';

/** Model calls and tokens spent; offline models report zero tokens. */
export interface Usage {
  calls: number;
  promptTokens: number;
  completionTokens: number;
}

export const NO_USAGE: Usage = { calls: 0, promptTokens: 0, completionTokens: 0 };

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    calls: a.calls + b.calls,
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
  };
}

/**
 * The pipeline's side of the model calls of one stage run: limits shared by every worker
 * and the round's accounting, kept in Redis. Absent outside the pipeline (evaluation,
 * unit tests), where nothing is limited or metered. A model given a ledger reports every
 * call through it as it is made, so the result's `usage` is for information only.
 */
export interface CallLedger {
  /** Waits for a request slot under `perMinute` requests per minute (0 = no limit). */
  awaitSlot(perMinute: number, signal?: AbortSignal): Promise<void>;
  /** Holds `tokens` of the round's `budget` for a call; false = the round cannot afford it. */
  reserve(tokens: number, budget: number): Promise<boolean>;
  /** Records a finished call (also a failed or unusable one) and frees its reservation. */
  settle(usage: Usage, reserved: number): Promise<void>;
  /** The result of a call this stage run already paid for (a re-run after a rate limit). */
  recall(key: string): Promise<string | null>;
  remember(key: string, value: string): Promise<void>;
}

/** One member's input to the models: their opinion and, in a critique round, critique. */
export interface ParticipantView {
  id: string;
  opinion: string;
  critique: string | null;
}

export interface GenerateInput {
  question: string;
  participants: readonly ParticipantView[];
  /** How many candidates to return (at most). */
  k: number;
  /** Seed for shuffles and any sampling, from the round. */
  seed: number;
  /** Revision mode: the previous winning statement (critiques are on participants). */
  previous: string | null;
  ledger?: CallLedger;
}

export interface GenerateResult {
  candidates: Candidate[];
  usage: Usage;
  /** Things the results should mention (e.g. "made from cluster summaries"). */
  notes: string[];
}

/** Writes candidate consensus statements from the opinions (and critiques). */
export interface Generator {
  readonly name: string;
  generate(input: GenerateInput, signal?: AbortSignal): Promise<GenerateResult>;
}

/**
 * The workspace's past ratings (members x statements, with texts and opinions), for a
 * reward model that learns from them. A port: the pipeline implements it over the store,
 * which src/models may not read; absent outside the pipeline.
 */
export interface RatingsHistory {
  /** How many ratings there are: cheap, so a model can decide whether to load them. */
  count(): Promise<number>;
  /**
   * The matrix, or (with `maxStatements` > 0) only the latest that many statements, their
   * ratings and the opinions of their rounds.
   */
  load(options?: { maxStatements?: number }): Promise<LearnedInput>;
}

export interface PredictInput {
  question: string;
  participants: readonly ParticipantView[];
  candidates: readonly Candidate[];
  seed: number;
  ledger?: CallLedger;
  /** The workspace's ratings so far (see BlendedRewardModel); other models ignore it. */
  history?: RatingsHistory;
}

export interface PredictResult {
  /** approvals[candidate][participant] in [0,1], null where not predicted. */
  matrix: ApprovalMatrix;
  usage: Usage;
  /** Which model produced the numbers, for the results message. */
  model: string;
}

/** Predicts every member's approval of every candidate (the personalised reward model). */
export interface RewardModel {
  readonly name: string;
  predict(input: PredictInput, signal?: AbortSignal): Promise<PredictResult>;
}
