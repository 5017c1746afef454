import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, judgeModel, loadConfig } from '../../../src/app/config.js';
import { chooseModels } from '../../../src/app/models.js';
import { EmbeddingRewardModel } from '../../../src/models/llm/embedding.js';
import { LlmGenerator } from '../../../src/models/llm/generator.js';
import { LlmJudgeRewardModel } from '../../../src/models/llm/judge.js';
import { ExtractiveGenerator } from '../../../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../../../src/models/offline/lexical-reward-model.js';
import { FakeOpenAI } from '../../fakes/openai.js';
import { RecordingLog } from '../../support/harness.js';
import { MEMBERS, QUESTION } from './support.js';

const KEY = 'sk-live-abcdefghijklmnop';

describe('model settings', () => {
  it('has defaults for every model setting', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      LLM_MODEL: 'gpt-4o-mini',
      EMBEDDING_MODEL: 'text-embedding-3-small',
      REWARD_MODEL: 'judge',
      LLM_TIMEOUT_MS: 60_000,
      LLM_MAX_RETRIES: 2,
      LLM_CONCURRENCY: 16,
      LLM_REQUESTS_PER_MINUTE: 0,
      LLM_ROUND_TOKEN_BUDGET: 200_000,
      LLM_WORD_BUDGET: 120,
    });
    expect(config.OPENAI_BASE_URL).toBeUndefined();
    expect(judgeModel(config)).toBe('gpt-4o-mini');
  });

  it('treats empty strings as unset; the judge model defaults to LLM_MODEL', () => {
    const config = loadConfig({
      LLM_MODEL: ' llama3.1 ',
      LLM_JUDGE_MODEL: '',
      OPENAI_BASE_URL: '',
    });
    expect(config.LLM_MODEL).toBe('llama3.1');
    expect(judgeModel(config)).toBe('llama3.1');
    expect(config.OPENAI_BASE_URL).toBeUndefined();
    expect(judgeModel(loadConfig({ LLM_JUDGE_MODEL: 'qwen2.5' }))).toBe('qwen2.5');
  });

  it.each([
    ['OPENAI_BASE_URL', 'localhost:11434/v1', /OPENAI_BASE_URL: must be an http\(s\) URL/],
    // The client would drop them silently; the message names neither.
    [
      'OPENAI_BASE_URL',
      'https://svc:s3cret-pass@gw.example/v1',
      /OPENAI_BASE_URL: must not hold a user name or password.*OPENAI_API_KEY/,
    ],
    ['LLM_CONCURRENCY', 'many', /LLM_CONCURRENCY: must be a whole number/],
    ['LLM_CONCURRENCY', '0', /LLM_CONCURRENCY/],
    ['LLM_WORD_BUDGET', '5', /LLM_WORD_BUDGET/],
    ['REWARD_MODEL', 'oracle', /REWARD_MODEL/],
  ])('names the variable when %s=%s is bad, and never echoes the key', (name, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value, OPENAI_API_KEY: KEY });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(KEY);
    expect((error as Error).message).not.toMatch(/s3cret-pass|svc/);
  });
});

describe('chooseModels', () => {
  it('uses the offline models with neither base URL nor key, and says so once', () => {
    const log = new RecordingLog();
    const choice = chooseModels(loadConfig({}), log);
    expect(choice.generator).toBeInstanceOf(ExtractiveGenerator);
    expect(choice.rewardModel).toBeInstanceOf(LexicalRewardModel);
    expect(choice.description).toMatch(/offline models/);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]?.message).toMatch(/no model server configured.*using the offline models/);
  });

  it('uses the LLM generator and judge on the configured server', () => {
    const log = new RecordingLog();
    const choice = chooseModels(
      loadConfig({
        OPENAI_BASE_URL: 'http://localhost:11434/v1?api-key=secret',
        OPENAI_API_KEY: KEY,
        LLM_MODEL: 'llama3.1',
        LLM_JUDGE_MODEL: 'qwen2.5',
      }),
      log,
    );
    expect(choice.generator).toBeInstanceOf(LlmGenerator);
    expect(choice.generator.name).toBe('llm (llama3.1)');
    expect(choice.rewardModel).toBeInstanceOf(LlmJudgeRewardModel);
    expect(choice.rewardModel.name).toBe('llm judge (qwen2.5)');
    expect(choice.description).toContain('http://localhost:11434/v1');
    const said = JSON.stringify([choice.description, log.lines]);
    expect(said).not.toContain(KEY);
    expect(said).not.toContain('secret');
    expect(log.lines).toHaveLength(1);
  });

  it('takes a key alone as OpenAI itself, and REWARD_MODEL picks the reward model', () => {
    const log = new RecordingLog();
    const embedding = chooseModels(
      loadConfig({
        OPENAI_API_KEY: KEY,
        REWARD_MODEL: 'embedding',
        EMBEDDING_MODEL: 'nomic-embed-text',
      }),
      log,
    );
    expect(embedding.rewardModel).toBeInstanceOf(EmbeddingRewardModel);
    expect(embedding.rewardModel.name).toBe('embeddings (nomic-embed-text)');
    expect(embedding.description).toContain('https://api.openai.com/v1');
    const lexical = chooseModels(loadConfig({ OPENAI_API_KEY: KEY, REWARD_MODEL: 'lexical' }), log);
    expect(lexical.generator).toBeInstanceOf(LlmGenerator);
    expect(lexical.rewardModel).toBeInstanceOf(LexicalRewardModel);
    expect(JSON.stringify(log.lines)).not.toContain(KEY);
  });

  describe('requests', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it("go through the SDK over the keep-alive node:http fetch, timed by the metrics' wrapper", async () => {
      const fake = await FakeOpenAI.start();
      try {
        // Node's own fetch (undici) would be the SDK's default: it must not be used.
        const nodeFetch = vi.spyOn(globalThis, 'fetch');
        const requests: string[] = [];
        const choice = chooseModels(
          loadConfig({ OPENAI_BASE_URL: fake.baseURL, LLM_MAX_RETRIES: '0' }),
          new RecordingLog(),
          { modelRequest: (endpoint, outcome) => requests.push(`${endpoint} ${outcome}`) },
        );
        const result = await choice.generator.generate({
          question: QUESTION,
          participants: MEMBERS,
          k: 2,
          seed: 1,
          previous: null,
        });
        expect(result.candidates).toHaveLength(2);
        expect(requests).toEqual(['chat 2xx', 'chat 2xx']);
        expect(fake.chatBodies('consensus_statement')).toHaveLength(2);
        expect(nodeFetch).not.toHaveBeenCalled();
      } finally {
        await fake.close();
      }
    });

    it.each([
      ['a 400 (the round fails with it)', 400],
      ['a 401 (the setup error)', 401],
    ])(
      'mask the key of the base URL in the reason of %s, which reaches the channel',
      async (_, status) => {
        const fake = await FakeOpenAI.start();
        try {
          const queryKey = 'gw-query-key-7c3e9a1f';
          // A gateway quoting the request URL, query and all, in its error.
          fake.script('consensus_statement', {
            kind: 'error',
            status,
            message: `bad request to /v1/chat/completions?api-key=${queryKey}`,
          });
          const choice = chooseModels(
            loadConfig({
              OPENAI_BASE_URL: `${fake.baseURL}?api-key=${queryKey}`,
              LLM_MAX_RETRIES: '0',
              LLM_SERVER_WAIT_MS: '0',
            }),
            new RecordingLog(),
          );
          const failed = await choice.generator
            .generate({ question: QUESTION, participants: MEMBERS, k: 1, seed: 1, previous: null })
            .then(
              () => null,
              (error: unknown) => (error instanceof Error ? error.message : String(error)),
            );
          expect(fake.requests.some((r) => r.query === `api-key=${queryKey}`)).toBe(true);
          expect(failed).toContain('api-key=***');
          expect(failed).not.toContain(queryKey);
        } finally {
          await fake.close();
        }
      },
    );
  });
});
