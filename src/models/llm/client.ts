import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  type ClientOptions,
} from 'openai';
import { errorMessage } from '../../domain/errors.js';
import type { Log } from '../../domain/log.js';
import { addUsage, type CallLedger, NO_USAGE, type Usage } from '../ports.js';
import { ModelSetupError, RateLimitedError, TokenBudgetError } from './errors.js';
import { createNodeFetch } from './node-fetch.js';
import {
  type Interpreted,
  readCompletion,
  readEmbeddings,
  responseFormat,
  type StructuredRequest,
} from './responses.js';
import { Semaphore } from './semaphore.js';

// Callers and tests import these from here, as they did before they had modules of their own.
export type { Interpreted, StructuredRequest } from './responses.js';
export { Semaphore } from './semaphore.js';

/** Where the model server is. Local servers (Ollama, vLLM, llama.cpp) need no key. */
export interface ServerSettings {
  baseURL?: string | undefined;
  apiKey?: string | undefined;
  timeoutMs: number;
  /**
   * The fetch the SDK sends its requests with; createNodeFetch() when absent. A wrapper
   * (the metrics' and LLM_SERVER_WAIT_MS's, see src/app/model-server.ts) goes around it.
   */
  fetch?: ClientOptions['fetch'] | undefined;
}

/** The SDK insists on a key; servers that need none ignore this one. */
const NO_KEY = 'no-key';

export function createOpenAIClient(settings: ServerSettings): OpenAI {
  const { baseURL, query } = splitQuery(settings.baseURL);
  return new OpenAI({
    baseURL,
    // A gateway's ?api-version=… (or ?api-key=…) goes on every request. Left in the base
    // URL, the SDK appends the path after it: POST /v1?api-version=…/chat/completions.
    ...(query ? { defaultQuery: query } : {}),
    apiKey: settings.apiKey ?? NO_KEY,
    timeout: settings.timeoutMs,
    fetch: settings.fetch ?? createNodeFetch(),
    // Retries are ours (ModelClient.call): a 429 must reach the queue, which pauses every
    // worker, rather than sleep inside one job; and unusable output is retried too.
    maxRetries: 0,
  });
}

/** A base URL without its query (and fragment), and the query's parameters. */
function splitQuery(url: string | undefined): {
  baseURL: string | undefined;
  query: Record<string, string> | null;
} {
  const at = url?.indexOf('?') ?? -1;
  if (url === undefined || at < 0) return { baseURL: url?.split('#')[0], query: null };
  const params = new URLSearchParams(url.slice(at + 1).split('#')[0]);
  return { baseURL: url.slice(0, at), query: params.size > 0 ? Object.fromEntries(params) : null };
}

/** How calls are made: retries, limits, and the round's token budget. */
export interface CallPolicy {
  /** Further tries of one call after a server error, timeout or unusable output. */
  maxRetries: number;
  /** Requests this process has in flight at once, across every model sharing the client. */
  concurrency: number;
  /** Requests per minute across every worker (through the ledger); 0 = no limit. */
  requestsPerMinute: number;
  /** Tokens one round may spend (through the ledger); 0 = no limit. */
  roundTokenBudget: number;
  /** First wait after a server error or timeout; doubles per try unless the server says. */
  retryDelayMs: number;
  /** Logged as *** wherever a server's message might echo it. */
  apiKey?: string | undefined;
  /**
   * Other credentials a server's message may echo, masked like the key: those the base
   * URL carries (its password, `?api-key=`), which a gateway's 400 quotes with the
   * request URL. The reasons built here reach the channel, not only the logs.
   */
  secrets?: readonly string[] | undefined;
  /**
   * A cap on requests in flight shared by every process (a Redis lease semaphore, see
   * src/pipeline/request-gate.ts); absent, only this process's `concurrency` holds.
   */
  gate?: RequestGate | undefined;
  log: Log;
}

/**
 * Admits one request at a time against a cap shared beyond this process. `acquire`
 * resolves with the function that gives the place back.
 */
export interface RequestGate {
  acquire(signal?: AbortSignal): Promise<() => Promise<void>>;
}

export const DEFAULT_POLICY: Omit<CallPolicy, 'log'> = {
  maxRetries: 2,
  concurrency: 16,
  requestsPerMinute: 0,
  roundTokenBudget: 0,
  retryDelayMs: 500,
};

/** A 429 without retry-after waits this long; a server asking for more than the cap gets the cap. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 1_000;
const MAX_WAIT_MS = 10 * 60_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * Tokens are estimated at 3 characters each, fewer than English averages (about 4), so
 * that a reservation errs on the side of not overspending.
 */
export const CHARS_PER_TOKEN = 3;

export function estimateTokens(chars: number): number {
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

export type CallOutcome<T> =
  | { ok: true; value: T; usage: Usage; tries: number }
  | {
      ok: false;
      reason: string;
      usage: Usage;
      tries: number;
      /**
       * The last try was answered, with output the call could not use (not JSON, off the
       * schema, cut off, refused): the model's answer, not the server's trouble.
       */
      unusable: boolean;
    };

/** One model call as the retry loop sees it. */
interface Call<T> {
  /** Tokens to hold from the round's budget while the call runs. */
  estimate: number;
  send(signal: AbortSignal | undefined): Promise<unknown>;
  /**
   * What a successful response cost (estimated when the server does not say) and what
   * it holds. One function, so the body is validated once: for 1,000 embeddings that is
   * tens of thousands of numbers.
   */
  read(raw: unknown): { usage: Usage; result: Interpreted<T> };
}

type Failure = { reason: string; retryable: boolean; waitMs: number | null };

/**
 * `signal` ends a call wherever it is (the job was cancelled). `beforeSending` ends it
 * only while it has not been sent: a sibling's 429 stops the calls still waiting for a
 * place, but a request already on the wire is paid for whatever happens to it, so its
 * answer is awaited and kept (remembered in the ledger) instead of thrown away.
 */
interface CallSignals {
  signal: AbortSignal | undefined;
  beforeSending: AbortSignal | undefined;
}

/**
 * Chat and embedding calls against any OpenAI-compatible server, with the behaviour the
 * models need: structured output validated with zod and retried when unusable, server
 * errors and timeouts retried with backoff, 429s raised for the queue to handle, a
 * per-process concurrency limit, and every call metered through the stage's ledger.
 */
export class ModelClient {
  private readonly slots: Semaphore;
  /**
   * Until when the server asked this process to wait (its last 429's retry-after): calls
   * in that window fail at once instead of adding to the storm.
   */
  private pausedUntil = 0;

  constructor(
    readonly openai: OpenAI,
    readonly policy: CallPolicy,
  ) {
    this.slots = new Semaphore(policy.concurrency);
  }

  /**
   * A chat completion whose content must be JSON matching `request.schema`. `signal` ends
   * the call wherever it is; `beforeSending` (which should include `signal`) only while
   * it waits for a place or a retry, see CallSignals.
   */
  structured<T>(
    request: StructuredRequest<T>,
    ledger: CallLedger | undefined,
    signal: AbortSignal | undefined,
    beforeSending?: AbortSignal,
  ): Promise<CallOutcome<T>> {
    const format = responseFormat(request.schema, request.schemaName);
    const promptChars = request.messages.reduce(
      (n, m) => n + (typeof m.content === 'string' ? m.content.length : 0),
      0,
    );
    return this.call(
      {
        estimate: estimateTokens(promptChars) + request.maxTokens,
        send: (s) =>
          this.openai.chat.completions.create(
            {
              model: request.model,
              messages: request.messages,
              response_format: format,
              temperature: request.temperature,
              // Not max_completion_tokens: most local servers only know max_tokens.
              max_tokens: request.maxTokens,
            },
            { signal: s },
          ),
        read: (raw) => readCompletion(raw, request, promptChars),
      },
      ledger,
      { signal, beforeSending: beforeSending ?? signal },
    );
  }

  /** One batched embeddings call; vectors in input order. */
  embed(
    model: string,
    inputs: readonly string[],
    ledger: CallLedger | undefined,
    signal: AbortSignal | undefined,
    beforeSending?: AbortSignal,
  ): Promise<CallOutcome<number[][]>> {
    const chars = inputs.reduce((n, t) => n + t.length, 0);
    return this.call(
      {
        estimate: estimateTokens(chars),
        send: (s) =>
          this.openai.embeddings.create(
            // Without it the SDK asks for base64 and decodes bytes, which turns a server
            // that answers with plain float arrays into garbage vectors.
            { model, input: [...inputs], encoding_format: 'float' },
            { signal: s },
          ),
        read: (raw) => readEmbeddings(raw, inputs.length, chars),
      },
      ledger,
      { signal, beforeSending: beforeSending ?? signal },
    );
  }

  private async call<T>(
    call: Call<T>,
    ledger: CallLedger | undefined,
    signals: CallSignals,
  ): Promise<CallOutcome<T>> {
    const waiting = signals.beforeSending;
    let usage = NO_USAGE;
    let reason = 'no try was made';
    let unusable = false;
    let tries = 0;
    for (let attempt = 0; attempt <= this.policy.maxRetries; attempt++) {
      tries++;
      const sent = await this.send(call, ledger, signals);
      usage = addUsage(usage, sent.usage);
      if ('failure' in sent) {
        reason = sent.failure.reason;
        unusable = false;
        if (!sent.failure.retryable) break;
        if (attempt < this.policy.maxRetries) {
          const backoff = Math.min(MAX_BACKOFF_MS, this.policy.retryDelayMs * 2 ** attempt);
          await sleep(Math.min(MAX_WAIT_MS, sent.failure.waitMs ?? backoff), undefined, {
            signal: waiting,
          }).catch((error: unknown) => {
            // The caller's reason (a 429 in a sibling call), not a bare AbortError.
            throw waiting?.reason ?? error;
          });
        }
        continue;
      }
      const result = sent.result;
      if ('value' in result) return { ok: true, value: result.value, usage, tries };
      reason = result.invalid;
      unusable = true;
      this.policy.log.debug({ attempt: attempt + 1, reason }, 'unusable model output');
    }
    return { ok: false, reason, usage, tries, unusable };
  }

  /** One request: a concurrency slot, budget, rate-limit slot, then the request itself. */
  private async send<T>(
    call: Call<T>,
    ledger: CallLedger | undefined,
    signals: CallSignals,
  ): Promise<{ result: Interpreted<T>; usage: Usage } | { failure: Failure; usage: Usage }> {
    const { roundTokenBudget, requestsPerMinute } = this.policy;
    const { signal, beforeSending: waiting } = signals;
    await this.slots.acquire(waiting);
    // The shared place is taken after the local one, so a process never has more waiters
    // polling Redis than its own concurrency, however many calls its jobs queue up.
    let leave: (() => Promise<void>) | null = null;
    let released = false;
    // The shared place first, then the local one, so that the local waiter it wakes finds
    // the shared place free instead of polling for it.
    const release = async () => {
      if (released) return;
      released = true;
      await leave?.().catch(() => undefined);
      this.slots.release();
    };
    try {
      if (this.policy.gate) leave = await this.policy.gate.acquire(waiting);
      const pause = this.pausedUntil - Date.now();
      if (pause > 0) throw new RateLimitedError(pause);
      const reserved = ledger && roundTokenBudget > 0 ? call.estimate : 0;
      if (ledger && reserved > 0 && !(await ledger.reserve(reserved, roundTokenBudget))) {
        throw new TokenBudgetError(roundTokenBudget);
      }
      // No call until the request leaves: one stopped while it waited for a rate slot (a
      // sibling's 429) never reached the server, and counting it made a stage's calls
      // exceed the requests the server saw.
      let usage: Usage = NO_USAGE;
      try {
        if (ledger && requestsPerMinute > 0) await ledger.awaitSlot(requestsPerMinute, waiting);
        waiting?.throwIfAborted();
        usage = { calls: 1, promptTokens: 0, completionTokens: 0 };
        const raw = await call.send(signal);
        const read = call.read(raw);
        usage = read.usage;
        return { result: read.result, usage };
      } catch (error) {
        if (signal?.aborted) throw signal.reason ?? error;
        // Stopped before sending: the caller's reason (a sibling's 429), not a failure of
        // this call for the retry loop to classify and count.
        if (usage.calls === 0 && waiting?.aborted) throw waiting.reason ?? error;
        return { failure: this.classify(error), usage };
      } finally {
        // The request is over: its place goes to the next call while this one is recorded,
        // rather than a round trip later.
        await Promise.all([release(), ledger?.settle(usage, reserved)]);
      }
    } finally {
      await release();
    }
  }

  /** Throws what no retry of this call fixes; describes what one might. */
  private classify(error: unknown): Failure {
    if (error instanceof APIConnectionTimeoutError) {
      return { reason: 'the request timed out', retryable: true, waitMs: null };
    }
    if (error instanceof APIConnectionError) {
      // The SDK's own message is only "Connection error."; its cause says which one
      // (refused, reset, closed mid-body).
      const detail = error.cause instanceof Error ? error.cause.message : error.message;
      return {
        reason: `could not reach the model server (${this.redact(detail)})`,
        retryable: true,
        waitMs: null,
      };
    }
    if (error instanceof APIError && typeof error.status === 'number') {
      const status = error.status;
      const message = this.redact(error.message);
      if (status === 429) {
        const wait = Math.min(
          MAX_WAIT_MS,
          retryAfterMs(error.headers) ?? DEFAULT_RATE_LIMIT_WAIT_MS,
        );
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + wait);
        throw new RateLimitedError(wait);
      }
      if (status === 401 || status === 403 || status === 404) {
        throw new ModelSetupError(
          status,
          `the model server refused the request (${message}); check OPENAI_BASE_URL, OPENAI_API_KEY and the model names`,
        );
      }
      const retryable = status === 408 || status === 409 || status >= 500;
      return {
        reason: `the model server answered ${message}`,
        retryable,
        waitMs: retryable ? retryAfterMs(error.headers) : null,
      };
    }
    // A 200 whose body is not JSON, a reset connection mid-body, and the like.
    const detail = errorMessage(error);
    return {
      reason: `the model server sent an unreadable response (${this.redact(detail)})`,
      retryable: true,
      waitMs: null,
    };
  }

  /** A server's error message may quote the key it was sent (401s often do), or the URL. */
  redact(text: string): string {
    // Longest first, so that a secret containing another is masked whole.
    const secrets = [this.policy.apiKey, ...(this.policy.secrets ?? [])]
      .filter((s): s is string => s !== undefined && s.length >= 4)
      .sort((a, b) => b.length - a.length);
    let masked = text;
    for (const secret of secrets) masked = masked.split(secret).join('***');
    return masked.replace(/\bsk-[A-Za-z0-9_*.-]{6,}/g, 'sk-***').slice(0, 300);
  }
}

/** Milliseconds the server asked us to wait (`retry-after-ms`, `retry-after` seconds or date). */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | null {
  // A blank value is no value: Number('') is 0, which read a blank retry-after-ms beside a
  // retry-after of 20 s as "retry now".
  const msValue = headers?.get('retry-after-ms')?.trim();
  const ms = msValue ? Number(msValue) : Number.NaN;
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers?.get('retry-after')?.trim();
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
