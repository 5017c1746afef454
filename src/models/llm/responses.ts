/**
 * The structured-output side of a model call, apart from the calling: the
 * `response_format` a request sends, and how a raw SDK response becomes a value or the
 * reason it is unusable (which the call loop retries). Kept out of client.ts so that file
 * is only the client and its call loop.
 */
import { zodResponseFormat } from 'openai/helpers/zod';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { z } from 'zod';
import type { Usage } from '../ports.js';
import { parseOutput } from './schemas.js';

export type Interpreted<T> = { value: T } | { invalid: string };

export interface StructuredRequest<T> {
  model: string;
  /** Name of the JSON schema sent as `response_format` (the fake server keys on it). */
  schemaName: string;
  schema: z.ZodType<T>;
  messages: ChatCompletionMessageParam[];
  maxTokens: number;
  temperature: number;
  /** Checks beyond the shape; returns why the value is unusable, or null. */
  check?: (value: T) => string | null;
}

/**
 * `response_format` per schema object and name. Converting a zod schema to a strict JSON
 * schema walks and copies it (zod's toJSONSchema, then the SDK's strict transform): the
 * largest share of a judge call's CPU in a profile of a zero-latency round, for a value
 * that never changes. Weakly held, so a schema nobody uses any more is not kept.
 */
const formats = new WeakMap<z.ZodType, Map<string, ReturnType<typeof zodResponseFormat>>>();
export function responseFormat<T>(schema: z.ZodType<T>, name: string) {
  let byName = formats.get(schema);
  if (!byName) {
    byName = new Map();
    formats.set(schema, byName);
  }
  let format = byName.get(name);
  if (!format) {
    format = zodResponseFormat(schema, name);
    byName.set(name, format);
  }
  return format;
}

/**
 * A token count as a server reports it (zod's number is finite). Usage is read apart from
 * the body's schemas and field by field: a server that sends `usage: {total_tokens}` or
 * `{}` still sent a usable answer, which a strict usage object had thrown away as "no
 * chat completion"; what it leaves out is estimated.
 */
const TokenCount = z.number().nonnegative();

function reportedTokens(raw: unknown, field: 'prompt_tokens' | 'completion_tokens') {
  const usage = isRecord(raw) ? raw.usage : undefined;
  return isRecord(usage) ? (TokenCount.safeParse(usage[field]).data ?? null) : null;
}

/**
 * What we read from a chat completion. Validated rather than trusted: some servers send
 * a 200 with an empty or foreign body.
 */
const CompletionSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.string().nullable().optional(),
          refusal: z.string().nullable().optional(),
        }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
});

/**
 * One loop over a vector rather than a zod parse per element: 1,000 embeddings are
 * 64k-1.5M numbers, and the per-element parse was over half of reading them. Finite, not
 * just numbers: a server that writes 1e999 (an overflowed float) gives Infinity, whose
 * NaN cosines made every predicted approval of the round 1/2 without a word.
 */
const VectorSchema = z.custom<number[]>(
  (v) => Array.isArray(v) && v.every((x) => Number.isFinite(x)),
  'expected an array of finite numbers',
);

const EmbeddingsSchema = z.object({
  data: z.array(z.object({ index: z.number().int(), embedding: VectorSchema })),
});

/**
 * The schemas above, checked in plain loops for a well-formed body (nearly every one):
 * zod then parses only a body they do not accept, whose failure is reported. A round
 * reads ~33 bodies, and zod's parse of each was a tenth of a call's CPU in a fresh
 * worker.
 */
function parseBody<S extends z.ZodType>(
  schema: S,
  plainly: (raw: unknown) => boolean,
  raw: unknown,
): z.ZodSafeParseResult<z.infer<S>> {
  if (plainly(raw)) return { success: true, data: raw as z.infer<S> };
  return schema.safeParse(raw);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const optionalString = (v: unknown) => v === undefined || v === null || typeof v === 'string';

function plainCompletion(raw: unknown): boolean {
  if (!isRecord(raw)) return false;
  const { choices } = raw;
  if (!Array.isArray(choices) || choices.length === 0) return false;
  for (const choice of choices) {
    if (!isRecord(choice) || !isRecord(choice.message)) return false;
    if (!optionalString(choice.message.content) || !optionalString(choice.message.refusal)) {
      return false;
    }
    if (!optionalString(choice.finish_reason)) return false;
  }
  return true;
}

function plainEmbeddings(raw: unknown): boolean {
  if (!isRecord(raw) || !Array.isArray(raw.data)) return false;
  for (const item of raw.data) {
    if (!isRecord(item) || !Number.isInteger(item.index)) return false;
    const vector = item.embedding;
    if (!Array.isArray(vector)) return false;
    for (const x of vector) if (!Number.isFinite(x)) return false;
  }
  return true;
}

/**
 * What a chat completion cost (estimated from `promptChars` and the content when the
 * server does not say) and what it holds.
 */
export function readCompletion<T>(
  raw: unknown,
  request: StructuredRequest<T>,
  promptChars: number,
): { usage: Usage; result: Interpreted<T> } {
  const parsed = parseBody(CompletionSchema, plainCompletion, raw);
  const content = parsed.success ? (parsed.data.choices[0]?.message.content ?? '') : '';
  // Also beside a body without a usable completion (no choices, say): the server's
  // figure, not our estimate, is what it bills and what its log shows.
  return {
    usage: {
      calls: 1,
      promptTokens: reportedTokens(raw, 'prompt_tokens') ?? Math.ceil(promptChars / 4),
      completionTokens: reportedTokens(raw, 'completion_tokens') ?? Math.ceil(content.length / 4),
    },
    result: parsed.success
      ? interpretCompletion(parsed.data, request)
      : { invalid: 'the server sent no chat completion' },
  };
}

/**
 * What an embeddings response cost (estimated from `chars` when the server does not say)
 * and its `count` vectors in input order.
 */
export function readEmbeddings(
  raw: unknown,
  count: number,
  chars: number,
): { usage: Usage; result: Interpreted<number[][]> } {
  const parsed = parseBody(EmbeddingsSchema, plainEmbeddings, raw);
  const tokens = reportedTokens(raw, 'prompt_tokens');
  return {
    usage: { calls: 1, promptTokens: tokens ?? Math.ceil(chars / 4), completionTokens: 0 },
    result: parsed.success
      ? interpretEmbeddings(parsed.data, count)
      : { invalid: 'the server sent no embeddings' },
  };
}

function interpretCompletion<T>(
  completion: z.infer<typeof CompletionSchema>,
  request: StructuredRequest<T>,
): Interpreted<T> {
  const choice = completion.choices[0];
  if (choice?.message.refusal) return { invalid: 'the model refused' };
  if (choice?.finish_reason === 'length') {
    return { invalid: 'the output was cut off at the token limit' };
  }
  const content = choice?.message.content ?? '';
  // Said apart from "not JSON": an empty answer points at the server or model setup.
  if (content.trim() === '') return { invalid: 'the output is empty' };
  let json: unknown;
  try {
    json = JSON.parse(stripFence(content));
  } catch {
    return { invalid: 'the output is not JSON' };
  }
  const value = parseOutput(request.schema, json);
  if (!value.success) {
    const issue = value.error.issues[0];
    const where = issue?.path.join('.') || '(root)';
    return { invalid: `the output has the wrong shape (${where}: ${issue?.message})` };
  }
  const problem = request.check?.(value.data) ?? null;
  return problem === null ? { value: value.data } : { invalid: problem };
}

/** Local models without strict schemas sometimes wrap their JSON in a Markdown fence. */
function stripFence(content: string): string {
  const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n\s*```\s*$/.exec(content);
  return fenced?.[1] ?? content;
}

function interpretEmbeddings(
  embeddings: z.infer<typeof EmbeddingsSchema>,
  count: number,
): Interpreted<number[][]> {
  const vectors: (number[] | undefined)[] = new Array(count).fill(undefined);
  for (const item of embeddings.data) {
    if (item.index >= 0 && item.index < count) vectors[item.index] = item.embedding;
  }
  const dims = vectors[0]?.length ?? 0;
  if (dims === 0 || vectors.some((v) => v === undefined || v.length !== dims)) {
    return { invalid: `expected ${count} embeddings of one size` };
  }
  return { value: vectors as number[][] };
}
