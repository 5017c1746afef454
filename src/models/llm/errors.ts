/**
 * Errors the model layer raises that the pipeline treats specially. Every message is
 * fit to show in the channel: it never carries the API key or a prompt.
 */

/**
 * The server answered 429. Not a failure of the job: the pipeline puts it back on its
 * queue for `retryAfterMs` without spending an attempt, and pauses the queue meanwhile.
 */
export class RateLimitedError extends Error {
  constructor(
    readonly retryAfterMs: number,
    message = `the model server is rate limiting requests; retrying in ${Math.ceil(retryAfterMs / 1000)} s`,
  ) {
    super(message);
    this.name = 'RateLimitedError';
  }
}

/** The round cannot afford another call: retrying would only fail again. */
export class TokenBudgetError extends Error {
  constructor(
    readonly budget: number,
    readonly work: 'generation' | 'scoring' = 'generation',
  ) {
    super(
      `the round's model token budget (${budget.toLocaleString('en-US')} tokens, LLM_ROUND_TOKEN_BUDGET) cannot cover another model call; ${work} stopped rather than overspend`,
    );
    this.name = 'TokenBudgetError';
  }
}

/**
 * Even the barest summary prompt (the instructions, the question, a previous statement
 * and each list as one group with its size and no quotes) exceeds LLM_PROMPT_BUDGET_TOKENS.
 * Every retry would build the same prompt, so the run fails with this message instead of
 * sending a prompt over the budget it was configured to respect.
 */
export class PromptBudgetError extends Error {
  constructor(
    readonly needed: number,
    readonly budget: number,
  ) {
    super(
      `even the smallest generation prompt (~${needed.toLocaleString('en-US')} tokens: the instructions, the question, any previous statement and every opinion counted in one group without quotes) exceeds the prompt budget (${budget.toLocaleString('en-US')} tokens, LLM_PROMPT_BUDGET_TOKENS); generation stopped rather than overrun it. Raise LLM_PROMPT_BUDGET_TOKENS or shorten the question`,
    );
    this.name = 'PromptBudgetError';
  }
}

/**
 * The server refused the request for a reason no retry fixes (401, 403, 404: wrong key,
 * wrong model name, wrong base URL).
 */
export class ModelSetupError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ModelSetupError';
  }
}

/**
 * Every generation sample was answered, and none gave a usable statement within the
 * client's retries (not JSON, off the schema, over the word budget). The job's further
 * attempts would only pay for all K samples again with the same prompts, so the pipeline
 * fails the run at once and tells the channel once; a moderator's `close` starts a new
 * run (a fresh seed).
 */
export class NoUsableOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoUsableOutputError';
  }
}
