import type { SparseRatings } from '../models/learned/factorisation.js';
import { Fraction } from './fraction.js';
import { regretAt1, rocAuc, type Score, spearman } from './metrics.js';
import type { Conversation, PolisComment, Vote } from './polis.js';
import { isNewComment, isTestVote } from './split.js';

/** What every method may see (EVAL.md 2): training votes, comment texts and authors. */
export interface TrainingData {
  topic: string | null;
  /** Voter ids; a voter's index is its position. Includes voters with no training vote. */
  voters: readonly string[];
  /** Every kept comment, new ones included (their texts are visible, their votes not). */
  comments: readonly PolisComment[];
  /** Training votes, as approvals in {0, 0.5, 1}, indexed into voters and comments. */
  ratings: SparseRatings;
  /** The raw votes behind `ratings.value` (a pass and an agree differ for agree counts). */
  votes: Int8Array;
}

export interface FittedMethod {
  /** Predicted approval of voter for comment (indices into TrainingData). */
  predict(voter: number, comment: number): number;
  /**
   * W(c) of tasks B and D, when the method computes it otherwise than as the mean of
   * `predict` over the participants (e.g. exactly).
   */
  utilitarian?(comment: number, participants: readonly number[]): Score;
  /** The consensus score of task C; undefined when the method takes no part in C. */
  consensus?(comment: number, participants: readonly number[]): Score;
}

export interface Method {
  name: string;
  /** Whether predictions on new comments can differ between comments (task D's rho). */
  textAware: boolean;
  /** Whether the method is scored on tasks A-C (the voter mean is a baseline for D only). */
  scoresAtoC: boolean;
  fit(data: TrainingData): FittedMethod;
}

export interface Row {
  conversation: string;
  method: string;
  A_auc: number | null;
  B_rho: number | null;
  B_regret: number | null;
  B_n: number | null;
  C_rho: number | null;
  C_n: number | null;
  D_auc: number | null;
  D_rho: number | null;
  D_n: number | null;
  fit_ms: number;
}

export const B_MIN_TEST_VOTES = 10;
export const B_MIN_COMMENTS = 5;
export const C_MIN_GROUP_SIZE = 5;
export const C_MIN_GROUP_TEST_VOTES = 3;
export const C_MIN_COMMENTS = 8;
export const D_MIN_VOTES = 10;
export const D_MIN_COMMENTS = 5;

interface IndexedVote {
  voter: number;
  comment: number;
  vote: Vote;
}

/** The conversation split once, shared by every method. */
export interface Prepared {
  conversation: Conversation;
  data: TrainingData;
  testVotes: IndexedVote[];
  newVotes: IndexedVote[];
  /** Voters with at least one training vote: the population W(c) averages over. */
  participants: number[];
  /** Polis group per voter index (-1: none), over groups of at least C_MIN_GROUP_SIZE. */
  bridgingGroup: Int32Array;
  bridgingGroupCount: number;
}

export function approval(vote: Vote): number {
  return (vote + 1) / 2;
}

/** Polis groups (non-blank group-ids) with their sizes over every listed participant. */
export function groupSizes(conversation: Conversation): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const group of conversation.groups.values()) sizes.set(group, (sizes.get(group) ?? 0) + 1);
  return sizes;
}

export function prepare(conversation: Conversation): Prepared {
  const voterIndex = new Map<string, number>();
  const voters: string[] = [];
  const addVoter = (id: string) => {
    let i = voterIndex.get(id);
    if (i === undefined) {
      i = voters.length;
      voterIndex.set(id, i);
      voters.push(id);
    }
    return i;
  };
  for (const p of conversation.participants) addVoter(p);
  const commentIndex = new Map(conversation.comments.map((c, i) => [c.id, i]));
  const isNew = conversation.comments.map((c) => isNewComment(c.id));

  const train: IndexedVote[] = [];
  const testVotes: IndexedVote[] = [];
  const newVotes: IndexedVote[] = [];
  for (const v of conversation.votes) {
    const comment = commentIndex.get(v.commentId);
    if (comment === undefined) continue;
    const indexed = { voter: addVoter(v.voterId), comment, vote: v.vote };
    if (isNew[comment]) newVotes.push(indexed);
    else if (isTestVote(v.voterId, v.commentId)) testVotes.push(indexed);
    else train.push(indexed);
  }

  const ratings: SparseRatings = {
    members: voters.length,
    statements: conversation.comments.length,
    member: Int32Array.from(train, (v) => v.voter),
    statement: Int32Array.from(train, (v) => v.comment),
    value: Float64Array.from(train, (v) => approval(v.vote)),
  };
  const hasTraining = new Uint8Array(voters.length);
  for (const v of train) hasTraining[v.voter] = 1;
  const participants: number[] = [];
  hasTraining.forEach((flag, i) => {
    if (flag === 1) participants.push(i);
  });

  const sizes = groupSizes(conversation);
  const kept = [...sizes.keys()].filter((g) => (sizes.get(g) ?? 0) >= C_MIN_GROUP_SIZE).sort();
  const keptIndex = new Map(kept.map((g, i) => [g, i]));
  const bridgingGroup = new Int32Array(voters.length).fill(-1);
  for (const [participant, group] of conversation.groups) {
    const g = keptIndex.get(group);
    const v = voterIndex.get(participant);
    if (g !== undefined && v !== undefined) bridgingGroup[v] = g;
  }

  return {
    conversation,
    data: {
      topic: conversation.topic,
      voters,
      comments: conversation.comments,
      ratings,
      votes: Int8Array.from(train, (v) => v.vote),
    },
    testVotes,
    newVotes,
    participants,
    bridgingGroup,
    bridgingGroupCount: kept.length,
  };
}

function meanPrediction(fitted: FittedMethod, comment: number, participants: readonly number[]) {
  if (fitted.utilitarian) return fitted.utilitarian(comment, participants);
  let sum = 0;
  for (const p of participants) sum += fitted.predict(p, comment);
  return sum / participants.length;
}

/** Each non-pass vote's score and class, with its comment (the bootstrap's unit). */
export interface VoteScores {
  comment: number[];
  score: number[];
  positive: boolean[];
}

/** Ranked items of tasks B, C and D's rho: one per eligible comment. */
export interface RankItems {
  comment: number[];
  score: Score[];
  truth: Score[];
}

/**
 * What a method scored, item by item, for the metrics that compare methods: the row's
 * figures are computed from these, and `npm run eval -- --bootstrap` resamples them.
 * null where the metric is n/a for this method.
 */
export interface ScoredItems {
  A_auc: VoteScores | null;
  B_rho: RankItems | null;
  C_rho: RankItems | null;
  D_auc: VoteScores;
}

export interface ScoredMethod {
  row: Row;
  items: ScoredItems;
}

function voteScores(fitted: FittedMethod, votes: readonly IndexedVote[]): VoteScores {
  const out: VoteScores = { comment: [], score: [], positive: [] };
  for (const v of votes) {
    if (v.vote === 0) continue;
    out.comment.push(v.comment);
    out.score.push(fitted.predict(v.voter, v.comment));
    out.positive.push(v.vote === 1);
  }
  return out;
}

export function voteAuc(items: VoteScores): number | null {
  return rocAuc(items.score, items.positive);
}

export function rankRho(items: RankItems): number | null {
  return spearman(items.score, items.truth);
}

/** Mean approval per comment over `votes`, for comments with at least `minVotes`. */
function commentTruth(votes: readonly IndexedVote[], comments: number, minVotes: number) {
  const sum = new Float64Array(comments);
  const count = new Int32Array(comments);
  for (const v of votes) {
    sum[v.comment] = (sum[v.comment] ?? 0) + approval(v.vote);
    count[v.comment] = (count[v.comment] ?? 0) + 1;
  }
  const eligible: number[] = [];
  const truth: number[] = [];
  for (let c = 0; c < comments; c++) {
    const n = count[c] as number;
    if (n >= minVotes && n > 0) {
      eligible.push(c);
      truth.push((sum[c] as number) / n);
    }
  }
  return { eligible, truth };
}

/** Eligible comments and group-informed consensus of the held-out votes (task C's truth). */
export function bridgingTruth(
  prepared: Prepared,
): { eligible: number[]; truth: Fraction[] } | null {
  const groups = prepared.bridgingGroupCount;
  if (groups < 2) return null;
  const comments = prepared.data.comments.length;
  const agrees = new Int32Array(comments * groups);
  const votes = new Int32Array(comments * groups);
  for (const v of prepared.testVotes) {
    const g = prepared.bridgingGroup[v.voter] as number;
    if (g < 0) continue;
    votes[v.comment * groups + g] = (votes[v.comment * groups + g] ?? 0) + 1;
    if (v.vote === 1) agrees[v.comment * groups + g] = (agrees[v.comment * groups + g] ?? 0) + 1;
  }
  const eligible: number[] = [];
  const truth: Fraction[] = [];
  for (let c = 0; c < comments; c++) {
    let ok = true;
    let product = Fraction.ONE;
    for (let g = 0; g < groups; g++) {
      const s = votes[c * groups + g] as number;
      if (s < C_MIN_GROUP_TEST_VOTES) {
        ok = false;
        break;
      }
      product = product.times(Fraction.of((agrees[c * groups + g] as number) + 1, s + 2));
    }
    if (ok) {
      eligible.push(c);
      truth.push(product);
    }
  }
  return { eligible, truth };
}

export function evaluate(prepared: Prepared, method: Method): Row {
  return evaluateItems(prepared, method).row;
}

export function evaluateItems(prepared: Prepared, method: Method): ScoredMethod {
  const started = performance.now();
  const fitted = method.fit(prepared.data);
  const fitMs = performance.now() - started;
  const { participants } = prepared;
  const comments = prepared.data.comments.length;
  const row: Row = {
    conversation: prepared.conversation.name,
    method: method.name,
    A_auc: null,
    B_rho: null,
    B_regret: null,
    B_n: null,
    C_rho: null,
    C_n: null,
    D_auc: null,
    D_rho: null,
    D_n: null,
    fit_ms: fitMs,
  };

  const items: ScoredItems = {
    A_auc: null,
    B_rho: null,
    C_rho: null,
    D_auc: voteScores(fitted, prepared.newVotes),
  };
  if (method.scoresAtoC) {
    items.A_auc = voteScores(fitted, prepared.testVotes);
    row.A_auc = voteAuc(items.A_auc);

    const b = commentTruth(prepared.testVotes, comments, B_MIN_TEST_VOTES);
    row.B_n = b.eligible.length;
    if (b.eligible.length >= B_MIN_COMMENTS && participants.length > 0) {
      const w = b.eligible.map((c) => meanPrediction(fitted, c, participants));
      items.B_rho = { comment: b.eligible, score: w, truth: b.truth };
      row.B_rho = rankRho(items.B_rho);
      row.B_regret = regretAt1(w, b.truth);
    }

    const c = bridgingTruth(prepared);
    if (c !== null) {
      row.C_n = c.eligible.length;
      const consensus = fitted.consensus;
      if (c.eligible.length >= C_MIN_COMMENTS && consensus !== undefined) {
        const score = c.eligible.map((comment) => consensus.call(fitted, comment, participants));
        items.C_rho = { comment: c.eligible, score, truth: c.truth };
        row.C_rho = rankRho(items.C_rho);
      }
    }
  }

  row.D_auc = voteAuc(items.D_auc);
  const d = commentTruth(prepared.newVotes, comments, D_MIN_VOTES);
  row.D_n = d.eligible.length;
  if (method.textAware && d.eligible.length >= D_MIN_COMMENTS && participants.length > 0) {
    const w = d.eligible.map((c) => meanPrediction(fitted, c, participants));
    row.D_rho = spearman(w, d.truth);
  }
  return { row, items };
}
