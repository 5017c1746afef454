import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientOptions } from 'openai';
import type { Log } from '../domain/log.js';
import {
  type CallOutcome,
  type CallPolicy,
  ModelClient,
  type StructuredRequest,
} from '../models/llm/client.js';
import { ModelSetupError } from '../models/llm/errors.js';
import { addUsage, type CallLedger, NO_USAGE, type Usage } from '../models/ports.js';

type Fetch = NonNullable<ClientOptions['fetch']>;

/** Receives the duration of each HTTP request to the model server (the metrics). */
export type ModelRequestObserver = (endpoint: string, outcome: string, seconds: number) => void;

/**
 * Answers a proxy or server gives while the model behind it is down, restarting or
 * loading: worth waiting for. A 500 is not: it is as likely a request the server will
 * never take, and it keeps the client's own retries and the job's attempts.
 */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/** What the requests of one model call saw, recorded by the fetch they go through. */
interface CallTrace {
  /** The last request could not reach the server, or got one of UNAVAILABLE_STATUSES. */
  unavailable: boolean;
  /** When the first such request of this call failed. */
  firstUnavailableAt: number | null;
}

/**
 * Carries each call's trace into the fetch its SDK request makes, however the SDK and the
 * client's limits (semaphore, shared gate, rate slots) interleave calls.
 */
const traces = new AsyncLocalStorage<CallTrace>();

/**
 * The fetch the OpenAI SDK is given: times each request for the metrics and tells the
 * waiting client (below) whether the server was there. An abort (the request's own
 * timeout, or the job stopping it) is not the server being down.
 */
export function observedFetch(observe?: ModelRequestObserver, base: Fetch = fetch): Fetch {
  return async (input, init) => {
    const started = performance.now();
    const endpoint = endpointOf(input);
    const trace = traces.getStore();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      // Headers, not body: for the non-streamed calls made here the server sends them
      // once its work is done, so this is the server's time.
      const response = await base(input, init);
      observe?.(endpoint, `${Math.floor(response.status / 100)}xx`, seconds());
      if (trace) note(trace, UNAVAILABLE_STATUSES.has(response.status));
      return response;
    } catch (error) {
      const aborted = init?.signal?.aborted === true;
      observe?.(endpoint, aborted ? 'aborted' : 'error', seconds());
      if (trace) note(trace, !aborted);
      throw error;
    }
  };
}

function note(trace: CallTrace, unavailable: boolean): void {
  trace.unavailable = unavailable;
  if (unavailable) trace.firstUnavailableAt ??= Date.now();
}

function endpointOf(input: string | URL | Request): string {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const path = url.split('?')[0] ?? '';
  if (path.endsWith('/chat/completions')) return 'chat';
  if (path.endsWith('/embeddings')) return 'embeddings';
  return 'other';
}

/**
 * Raised when the server stayed unavailable for the whole wait. It is a ModelSetupError
 * so that the models stop the call's siblings and the pipeline fails the run at once,
 * without spending further attempts that would each wait as long again (the pipeline
 * treats that class as "no retry helps"): the round fails once, after LLM_SERVER_WAIT_MS.
 */
export class ModelServerUnavailableError extends ModelSetupError {
  constructor(waitedMs: number, reason: string) {
    super(
      503,
      `the model server was unavailable for ${Math.round(waitedMs / 1000)} s, as long as LLM_SERVER_WAIT_MS allows (${reason}); check that it is running and reachable at OPENAI_BASE_URL`,
    );
    this.name = 'ModelServerUnavailableError';
  }
}

export interface WaitPolicy {
  /** LLM_SERVER_WAIT_MS; 0 = do not wait. */
  waitMs: number;
  /** First pause between two tries while the server is away; doubles up to `maxPauseMs`. */
  pauseMs?: number;
  maxPauseMs?: number;
  log: Log;
}

/**
 * The model client, plus patience with a server that is away: a call whose last request
 * found the server unreachable (or 502/503/504) after the client's own retries is tried
 * again, with a growing pause, until the server answers or `waitMs` has passed since the
 * call first found it away. Unusable output and other errors are returned as before.
 * While it pauses the call holds no concurrency slot or lease.
 */
export class WaitingModelClient extends ModelClient {
  private readonly pauseMs: number;
  private readonly maxPauseMs: number;
  /** When this process first saw the current outage (for its two log lines). */
  private outageSince: number | null = null;

  constructor(
    openai: ConstructorParameters<typeof ModelClient>[0],
    policy: CallPolicy,
    private readonly wait: WaitPolicy,
  ) {
    super(openai, policy);
    this.pauseMs = wait.pauseMs ?? 1_000;
    this.maxPauseMs = wait.maxPauseMs ?? 5_000;
  }

  override structured<T>(
    request: StructuredRequest<T>,
    ledger: CallLedger | undefined,
    signal: AbortSignal | undefined,
    beforeSending?: AbortSignal,
  ): Promise<CallOutcome<T>> {
    return this.patiently(
      () => super.structured(request, ledger, signal, beforeSending),
      beforeSending ?? signal,
    );
  }

  override embed(
    model: string,
    inputs: readonly string[],
    ledger: CallLedger | undefined,
    signal: AbortSignal | undefined,
    beforeSending?: AbortSignal,
  ): Promise<CallOutcome<number[][]>> {
    return this.patiently(
      () => super.embed(model, inputs, ledger, signal, beforeSending),
      beforeSending ?? signal,
    );
  }

  /**
   * `signal` is the call's beforeSending signal (see ModelClient): a pause between two
   * tries has nothing on the wire, so a sibling's rate limit or setup error ends it.
   */
  private async patiently<T>(
    call: () => Promise<CallOutcome<T>>,
    signal: AbortSignal | undefined,
  ): Promise<CallOutcome<T>> {
    const trace: CallTrace = { unavailable: false, firstUnavailableAt: null };
    let usage: Usage = NO_USAGE;
    let tries = 0;
    for (let pause = this.pauseMs; ; pause = Math.min(pause * 2, this.maxPauseMs)) {
      const outcome = await traces.run(trace, call);
      usage = addUsage(usage, outcome.usage);
      tries += outcome.tries;
      if (outcome.ok || !trace.unavailable || this.wait.waitMs === 0) {
        if (outcome.ok) this.serverBack();
        return { ...outcome, usage, tries };
      }
      const since = trace.firstUnavailableAt ?? Date.now();
      const waited = Date.now() - since;
      if (waited >= this.wait.waitMs) throw new ModelServerUnavailableError(waited, outcome.reason);
      this.serverAway(outcome.reason);
      await sleep(Math.min(pause, this.wait.waitMs - waited), undefined, { signal }).catch(
        (error: unknown) => {
          // The caller's reason (a sibling's rate limit or setup error), not a bare AbortError.
          throw signal?.reason ?? error;
        },
      );
    }
  }

  private serverAway(reason: string): void {
    if (this.outageSince !== null) return;
    this.outageSince = Date.now();
    this.wait.log.warn(
      { reason, waitMs: this.wait.waitMs },
      'model server unavailable; model calls wait for it (LLM_SERVER_WAIT_MS)',
    );
  }

  private serverBack(): void {
    if (this.outageSince === null) return;
    this.wait.log.info({ awayMs: Date.now() - this.outageSince }, 'model server answering again');
    this.outageSince = null;
  }
}
