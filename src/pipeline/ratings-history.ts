import type { Scope } from '../domain/scope.js';
import type { RatingsHistory } from '../models/ports.js';
import type { Store } from '../store/store.js';

/**
 * The reward model's view of a workspace's ratings matrix (the RatingsHistory port),
 * read lazily: only a model that learns from ratings, and only above its threshold,
 * pays for loading the whole matrix.
 */
export function ratingsHistory(store: Pick<Store, 'ratingsMatrix'>, scope: Scope): RatingsHistory {
  return {
    count: () => store.ratingsMatrix.count(scope),
    async load(options) {
      const matrix = await store.ratingsMatrix.load(scope, options?.maxStatements ?? 0);
      return {
        members: matrix.members,
        // Statements the bot wrote have no member as author.
        statements: matrix.statements.map((s) => ({ id: s.id, text: s.text })),
        ratings: matrix.ratings.map(({ member, statement, approval }) => ({
          member,
          statement,
          approval,
        })),
      };
    },
  };
}
