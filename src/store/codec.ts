import type { z } from 'zod';

/** Thrown when a stored value no longer matches its schema (corrupt or foreign data). */
export class StoredDataError extends Error {
  constructor(key: string, detail: string) {
    super(`Stored data at ${key} is invalid: ${detail}`);
    this.name = 'StoredDataError';
  }
}

/** Parses a stored JSON string with its schema; every read from Redis goes through here. */
export function decode<T extends z.ZodType>(schema: T, key: string, raw: string): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new StoredDataError(key, 'not JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new StoredDataError(key, parsed.error.issues[0]?.message ?? 'invalid');
  return parsed.data;
}
