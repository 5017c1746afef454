import {
  COMMUNITY_NOTES_OPTIONS,
  fitFactorisation,
  predictFactorisation,
} from '../models/learned/factorisation.js';
import { Fraction } from './fraction.js';
import type { Conversation } from './polis.js';
import {
  C_MIN_GROUP_SIZE,
  type FittedMethod,
  groupSizes,
  type Method,
  type TrainingData,
} from './protocol.js';

/** The four baselines of EVAL.md section 4. */

export const METHOD_NAMES = {
  commentMean: 'comment mean',
  polisGroups: 'Polis groups',
  voterMean: 'voter mean',
  oneFactor: 'MF one-factor',
  model: 'model',
} as const;

/** Per comment: (sum of training approvals + 1) / (training votes + 2). */
function smoothedCommentMeans(data: TrainingData): Float64Array {
  const sum = new Float64Array(data.comments.length);
  const count = new Float64Array(data.comments.length);
  const { statement, value } = data.ratings;
  for (let i = 0; i < value.length; i++) {
    sum[statement[i] as number] = (sum[statement[i] as number] ?? 0) + (value[i] as number);
    count[statement[i] as number] = (count[statement[i] as number] ?? 0) + 1;
  }
  return sum.map((s, c) => (s + 1) / ((count[c] as number) + 2));
}

export const commentMean: Method = {
  name: METHOD_NAMES.commentMean,
  textAware: false,
  scoresAtoC: true,
  fit(data) {
    const means = smoothedCommentMeans(data);
    return {
      predict: (_voter, comment) => means[comment] as number,
      // Every voter gets the same value, so W(c) is that value (exactly, not re-averaged).
      utilitarian: (comment) => means[comment] as number,
      consensus: (comment) => means[comment] as number,
    };
  },
};

export const voterMean: Method = {
  name: METHOD_NAMES.voterMean,
  textAware: false,
  scoresAtoC: false,
  fit(data) {
    const agrees = new Float64Array(data.voters.length);
    const votes = new Float64Array(data.voters.length);
    const { member } = data.ratings;
    for (let i = 0; i < member.length; i++) {
      votes[member[i] as number] = (votes[member[i] as number] ?? 0) + 1;
      if (data.votes[i] === 1) agrees[member[i] as number] = (agrees[member[i] as number] ?? 0) + 1;
    }
    const rate = agrees.map((a, u) => (a + 1) / ((votes[u] as number) + 2));
    return { predict: (voter) => rate[voter] as number };
  },
};

/**
 * Polis groups: the voter's group's smoothed mean approval on the comment; its consensus
 * score is Polis's group-informed consensus over the groups task C uses (at least
 * C_MIN_GROUP_SIZE participants), computed exactly.
 */
export function polisGroups(conversation: Conversation): Method {
  return {
    name: METHOD_NAMES.polisGroups,
    textAware: false,
    scoresAtoC: true,
    fit(data): FittedMethod {
      const groupNames = [...new Set(conversation.groups.values())].sort();
      const groupIndex = new Map(groupNames.map((g, i) => [g, i]));
      const sizes = groupSizes(conversation);
      const bridging = groupNames
        .map((g, i) => ({ g, i }))
        .filter(({ g }) => (sizes.get(g) ?? 0) >= C_MIN_GROUP_SIZE)
        .map(({ i }) => i);
      const groupOf = data.voters.map((id) => {
        const g = conversation.groups.get(id);
        return g === undefined ? -1 : (groupIndex.get(g) ?? -1);
      });
      const G = groupNames.length;
      const C = data.comments.length;
      const sum = new Float64Array(C * G);
      const count = new Int32Array(C * G);
      const agrees = new Int32Array(C * G);
      const { member, statement, value } = data.ratings;
      for (let i = 0; i < value.length; i++) {
        const g = groupOf[member[i] as number] as number;
        if (g < 0) continue;
        const cell = (statement[i] as number) * G + g;
        sum[cell] = (sum[cell] ?? 0) + (value[i] as number);
        count[cell] = (count[cell] ?? 0) + 1;
        if (data.votes[i] === 1) agrees[cell] = (agrees[cell] ?? 0) + 1;
      }
      const means = smoothedCommentMeans(data);
      const predict = (voter: number, comment: number) => {
        const g = groupOf[voter] as number;
        if (g < 0) return means[comment] as number;
        const cell = comment * G + g;
        return ((sum[cell] as number) + 1) / ((count[cell] as number) + 2);
      };
      return {
        predict,
        consensus: (comment) => {
          let product = Fraction.ONE;
          for (const g of bridging) {
            const cell = comment * G + g;
            product = product.times(
              Fraction.of((agrees[cell] as number) + 1, (count[cell] as number) + 2),
            );
          }
          return product;
        },
      };
    },
  };
}

export const oneFactor: Method = {
  name: METHOD_NAMES.oneFactor,
  textAware: false,
  scoresAtoC: true,
  fit(data) {
    const model = fitFactorisation(data.ratings, COMMUNITY_NOTES_OPTIONS);
    return {
      predict: (voter, comment) => predictFactorisation(model, voter, comment),
      consensus: (comment) => model.statementBias[comment] as number,
    };
  },
};
