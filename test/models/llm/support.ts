import type { Candidate } from '../../../src/domain/candidate.js';
import {
  type CallPolicy,
  createOpenAIClient,
  ModelClient,
} from '../../../src/models/llm/client.js';
import type { CallLedger, ParticipantView, Usage } from '../../../src/models/ports.js';
import type { FakeOpenAI } from '../../fakes/openai.js';
import { RecordingLog } from '../../support/harness.js';

export const API_KEY = 'sk-test-0123456789abcdef';

/** The real openai client pointed at the fake, with short waits so tests stay fast. */
export function clientFor(
  fake: FakeOpenAI,
  policy: Partial<CallPolicy> = {},
  timeoutMs = 2_000,
): { client: ModelClient; log: RecordingLog } {
  const log = new RecordingLog();
  const client = new ModelClient(
    createOpenAIClient({ baseURL: fake.baseURL, apiKey: API_KEY, timeoutMs }),
    {
      maxRetries: 1,
      concurrency: 16,
      requestsPerMinute: 0,
      roundTokenBudget: 0,
      retryDelayMs: 5,
      apiKey: API_KEY,
      log,
      ...policy,
    },
  );
  return { client, log };
}

/** A ledger in memory: what the pipeline keeps in Redis, for unit tests. */
export class MemoryLedger implements CallLedger {
  spent: Usage = { calls: 0, promptTokens: 0, completionTokens: 0 };
  held = 0;
  readonly memo = new Map<string, string>();
  slots = 0;

  async awaitSlot(): Promise<void> {
    this.slots++;
  }
  async reserve(tokens: number, budget: number): Promise<boolean> {
    const total = this.spent.promptTokens + this.spent.completionTokens + this.held;
    if (total + tokens > budget) return false;
    this.held += tokens;
    return true;
  }
  async settle(usage: Usage, reserved: number): Promise<void> {
    this.spent = {
      calls: this.spent.calls + usage.calls,
      promptTokens: this.spent.promptTokens + usage.promptTokens,
      completionTokens: this.spent.completionTokens + usage.completionTokens,
    };
    this.held -= reserved;
  }
  async recall(key: string): Promise<string | null> {
    return this.memo.get(key) ?? null;
  }
  async remember(key: string, value: string): Promise<void> {
    this.memo.set(key, value);
  }
}

export const QUESTION = 'Should our team adopt a four-day week?';

export const MEMBERS: ParticipantView[] = [
  { id: 'ana', opinion: 'Yes, a four-day week would reduce burnout.', critique: null },
  { id: 'ben', opinion: 'No. Customers expect support on Fridays.', critique: null },
  {
    id: 'cai',
    opinion: 'Only with a Friday support rota and a three-month trial.',
    critique: null,
  },
  { id: 'dee', opinion: 'Longer days would cancel out the gain.', critique: null },
  {
    id: 'eli',
    opinion: 'Flexible hours would suit me better than a fixed day off.',
    critique: null,
  },
];

export function candidate(id: string, text: string): Candidate {
  return { id, text, source: 'llm', explanation: null };
}
