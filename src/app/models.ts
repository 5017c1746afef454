import type { Redis } from 'ioredis';
import type { Log } from '../domain/log.js';
import { createOpenAIClient } from '../models/llm/client.js';
import { EmbeddingRewardModel } from '../models/llm/embedding.js';
import { LlmGenerator } from '../models/llm/generator.js';
import { LlmJudgeRewardModel } from '../models/llm/judge.js';
import { createNodeFetch } from '../models/llm/node-fetch.js';
import { ExtractiveGenerator } from '../models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../models/offline/lexical-reward-model.js';
import type { Generator, RewardModel } from '../models/ports.js';
import { type Config, hasModelServer, judgeModel, redactUrl } from './config.js';
import { sharedRequestGate } from './llm-gate.js';
import { urlSecrets } from './logger.js';
import { type ModelRequestObserver, observedFetch, WaitingModelClient } from './model-server.js';

export interface ModelChoice {
  generator: Generator;
  rewardModel: RewardModel;
  /** One line for the start-up log and the demo banner. */
  description: string;
}

const OPENAI_DEFAULT_URL = 'https://api.openai.com/v1';

/**
 * Picks the models for this process: with OPENAI_BASE_URL or OPENAI_API_KEY set, the
 * LLM generator and the reward model REWARD_MODEL names on that server; with neither,
 * the offline models, which need no account and no network. Says which, once.
 */
export function chooseModels(
  config: Config,
  log: Log,
  hooks: { modelRequest?: ModelRequestObserver } = {},
  /** The process's main connection, for the global cap on requests in flight too. */
  redis?: Redis,
): ModelChoice {
  if (!hasModelServer(config)) {
    const description = `offline models: extractive generator, lexical (TF-IDF) reward model${LEARNED_NOTE(config)}`;
    log.info(
      { models: description },
      'no model server configured (OPENAI_BASE_URL, OPENAI_API_KEY are unset): using the offline models',
    );
    return {
      generator: new ExtractiveGenerator(),
      rewardModel: new LexicalRewardModel(),
      description,
    };
  }
  const llmLog = log.child({ component: 'llm' });
  // The SDK's fetch (keep-alive node:http, see node-fetch.ts) is wrapped to time each
  // request (metrics) and to tell the client whether the server was there
  // (LLM_SERVER_WAIT_MS).
  const openai = createOpenAIClient({
    baseURL: config.OPENAI_BASE_URL,
    apiKey: config.OPENAI_API_KEY,
    timeoutMs: config.LLM_TIMEOUT_MS,
    fetch: observedFetch(hooks.modelRequest, createNodeFetch()),
  });
  const client = new WaitingModelClient(
    openai,
    {
      maxRetries: config.LLM_MAX_RETRIES,
      concurrency: config.LLM_CONCURRENCY,
      gate: sharedRequestGate(config, redis),
      requestsPerMinute: config.LLM_REQUESTS_PER_MINUTE,
      roundTokenBudget: config.LLM_ROUND_TOKEN_BUDGET,
      retryDelayMs: 500,
      apiKey: config.OPENAI_API_KEY,
      secrets: config.OPENAI_BASE_URL ? urlSecrets(config.OPENAI_BASE_URL) : [],
      log: llmLog,
    },
    { waitMs: config.LLM_SERVER_WAIT_MS, log: llmLog },
  );
  const generator = new LlmGenerator({
    client,
    model: config.LLM_MODEL,
    wordBudget: config.LLM_WORD_BUDGET,
    promptBudgetTokens: config.LLM_PROMPT_BUDGET_TOKENS,
    embeddingModel: config.EMBEDDING_MODEL,
    embedClusteringMin: config.LLM_EMBED_CLUSTERING_MIN,
    log: llmLog,
  });
  const rewardModel: RewardModel =
    config.REWARD_MODEL === 'embedding'
      ? new EmbeddingRewardModel({ client, model: config.EMBEDDING_MODEL })
      : config.REWARD_MODEL === 'lexical'
        ? new LexicalRewardModel()
        : new LlmJudgeRewardModel({
            client,
            model: judgeModel(config),
            batchSize: config.LLM_JUDGE_BATCH,
            promptBudgetTokens: config.LLM_PROMPT_BUDGET_TOKENS,
            log: llmLog,
          });
  const server = redactUrl(config.OPENAI_BASE_URL ?? OPENAI_DEFAULT_URL);
  const description = `model server ${server}: generator ${generator.name}, reward model ${rewardModel.name}${LEARNED_NOTE(config)}`;
  log.info(
    {
      server,
      generator: generator.name,
      rewardModel: rewardModel.name,
      requestsPerMinute: config.LLM_REQUESTS_PER_MINUTE || 'unlimited',
      roundTokenBudget: config.LLM_ROUND_TOKEN_BUDGET || 'unlimited',
    },
    'using the model server',
  );
  return { generator, rewardModel, description };
}

/** The runtime blends whichever reward model is chosen with the learned one (runtime.ts). */
function LEARNED_NOTE(config: Config): string {
  return `, blended with the learned model once a workspace has ${config.LEARNED_MIN_RATINGS} ratings`;
}
