import type { z } from 'zod';

/** Thrown when a stored value no longer matches its schema (corrupt or foreign data). */
export class StoredDataError extends Error {
  constructor(key: string, detail: string) {
    super(`Stored data at ${key} is invalid: ${detail}`);
    this.name = 'StoredDataError';
  }
}

/**
 * Parses a stored JSON string with its schema; every read from Redis goes through here.
 * `plainly`, for a large value, is a plain check of exactly what the schema accepts: a
 * value it accepts is returned without the zod parse (which then only reports a bad one).
 */
export function decode<T extends z.ZodType>(
  schema: T,
  key: string,
  raw: string,
  plainly?: (json: unknown) => boolean,
): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new StoredDataError(key, 'not JSON');
  }
  if (plainly?.(json)) return json as z.infer<T>;
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new StoredDataError(key, parsed.error.issues[0]?.message ?? 'invalid');
  return parsed.data;
}
