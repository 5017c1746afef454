import type { Log } from '../domain/log.js';
import { ExtractiveGenerator } from '../models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../models/offline/lexical-reward-model.js';
import type { Generator, RewardModel } from '../models/ports.js';
import type { Config } from './config.js';

export interface ModelChoice {
  generator: Generator;
  rewardModel: RewardModel;
  /** One line for the start-up log and the demo banner. */
  description: string;
}

/** Picks the models for this process. Offline models need no account and no network. */
export function chooseModels(config: Config, log: Log): ModelChoice {
  const offline: ModelChoice = {
    generator: new ExtractiveGenerator(),
    rewardModel: new LexicalRewardModel(),
    description: 'offline models: extractive generator, lexical (TF-IDF) reward model',
  };
  if (config.OPENAI_BASE_URL || config.OPENAI_API_KEY) {
    log.warn(
      {},
      'OPENAI_BASE_URL/OPENAI_API_KEY are set, but this build has only the offline models; using them',
    );
  }
  return offline;
}
