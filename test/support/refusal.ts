import { DomainError } from '../../src/domain/errors.js';

/** The DomainError a refused call rejects with; fails the test when it resolves instead. */
export async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof DomainError)) throw new Error(`expected a DomainError, got ${error}`);
  return error;
}
