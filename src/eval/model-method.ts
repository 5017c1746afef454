import { nash } from '../domain/welfare.js';
import { type CoreOptions, DEFAULT_CORE_OPTIONS, LearnedCore } from '../models/learned/core.js';
import { METHOD_NAMES } from './baselines.js';
import type { Method, TrainingData } from './protocol.js';

/** The project's learned reward model as an evaluation method. */
export function learnedModel(options: CoreOptions = DEFAULT_CORE_OPTIONS): Method {
  return {
    name: METHOD_NAMES.model,
    textAware: true,
    scoresAtoC: true,
    fit(data: TrainingData) {
      const voterIndex = new Map(data.voters.map((id, i) => [id, i]));
      // A member's own words are the statements they wrote (Polis has no separate opinion).
      const memberTexts = data.voters.map(() => '');
      const authors = data.comments.map((c) => {
        const u = voterIndex.get(c.authorId);
        if (u === undefined) return -1;
        memberTexts[u] = memberTexts[u] === '' ? c.text : `${memberTexts[u]}\n${c.text}`;
        return u;
      });
      const core = new LearnedCore(
        {
          ratings: data.ratings,
          statementTexts: data.comments.map((c) => c.text),
          statementAuthors: authors,
          memberTexts,
        },
        options,
      );
      return {
        predict: (voter, comment) => core.predict(voter, comment),
        // Nash welfare of the predicted approvals: a statement some members would reject
        // outright scores low however popular it is with the rest, which is what bridging
        // asks for without knowing the groups (slightly ahead of the factorisation's
        // statement bias on the Polis conversations, see the eval notes).
        consensus: (comment, participants) =>
          participants.length === 0
            ? core.statementBias(comment)
            : nash(participants.map((p) => core.predict(p, comment))),
      };
    },
  };
}
