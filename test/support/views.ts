import type { ResultsView, RoundHeader } from '../../src/deliberation/views.js';

/** The results of a finished round that put no statement to the vote: nothing but its header. */
export function emptyResults(header: RoundHeader): ResultsView {
  return {
    ...header,
    phase: 'closed',
    hidden: false,
    anonymous: false,
    versions: [],
    model: null,
    participants: 0,
    critiquedWithoutOpinion: [],
    unusedCritiques: 0,
    usage: {},
    exclusion: { truncated: [], summarisedVersions: [] },
  };
}
