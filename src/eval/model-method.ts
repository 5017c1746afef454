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
        // Group-informed consensus over opinion groups the model learned from the votes
        // (Polis group-ids are not used): what the bot ranks candidates by for bridging.
        consensus: (comment) => core.consensus(comment),
      };
    },
  };
}
