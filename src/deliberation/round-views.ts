/**
 * The read side of a round: the views of ./views.ts (status, results, statement,
 * reminder), built from what the store holds. They change nothing, so they take the store
 * and an already resolved round and leave the rules of who may do what to the service;
 * what a hidden or anonymous round keeps back is removed here, before any platform renders.
 */
import type { ApprovalMatrix, Candidate } from '../domain/candidate.js';
import { roughDuration } from '../domain/limits.js';
import { describePhase } from '../domain/phase.js';
import { pollOptions } from '../domain/poll-scale.js';
import { concealed, endorsement, pollResults, withoutNames } from '../domain/results.js';
import { type Round, ratesWithButtons } from '../domain/round.js';
import { selectConsensus } from '../domain/selection.js';
import type { Store } from '../store/store.js';
import { ratingIdOf } from './pseudonym.js';
import {
  type ExclusionCheck,
  headerOf,
  type NoticeView,
  type ResultsView,
  type StatementView,
  type StatusView,
  type VersionResults,
} from './views.js';

/**
 * The generator's note for a statement written from cluster summaries starts so (see
 * `summaryNote` in src/models/llm/large-group.ts; a test holds the two together).
 */
export function isSummaryNote(note: string): boolean {
  return note.startsWith('made from summaries');
}

/**
 * A command that failed after moving the round (see `followUpPending`) said "try again"
 * once; status says it for as long as it is true, so a moderator who looks does not read
 * "finished" and wait for results that will not come.
 */
function unfinishedFollowUp(round: Round): string {
  if (!round.followUpPending) return '';
  switch (round.phase) {
    case 'closed':
      return ' (its results are not posted yet: run `finish` again)';
    case 'generating':
    case 'revising':
      return ' (the writing has not started yet: run `close` again)';
    case 'critiquing':
      return ' (the invitation to critique is not posted yet: run `critique` again)';
    default:
      return '';
  }
}

export async function statusView(store: Store, round: Round): Promise<StatusView> {
  const [opinions, critiques, poll, usage] = await Promise.all([
    store.contributions.list(round.scope, round.id, 'opinion', 0),
    round.version > 0
      ? store.contributions.list(round.scope, round.id, 'critique', round.version)
      : Promise.resolve([]),
    store.polls.poll(round.scope, round.id, round.version),
    store.usage.byStage(round.scope, round.id),
  ]);
  const ratings = poll ? await store.polls.ratings(round.scope, poll) : [];
  return {
    ...headerOf(round),
    phase: round.phase,
    phaseText: describePhase(round.phase) + unfinishedFollowUp(round),
    opinions: opinions.length,
    critiques: critiques.length,
    version: round.version,
    ratings: ratings.length,
    deadline: round.deadline,
    failureReason: round.failureReason,
    usage,
  };
}

/**
 * Which model predicted each version's approvals, in words the renderers put after
 * "approvals were predicted by". Versions of one round can differ (a revision is scored
 * after the first poll's ratings joined the workspace's, so it may be the first to be
 * blended with the learned model): naming only the last would credit it with the first
 * version's predictions too.
 */
function modelsByVersion(models: readonly { version: number; model: string }[]): string | null {
  const versions = new Map<string, number[]>();
  for (const { version, model } of models)
    versions.set(model, [...(versions.get(model) ?? []), version]);
  if (versions.size <= 1) return models.at(-1)?.model ?? null;
  return [...versions]
    .map(([model, vs]) => {
      const list = vs.length === 1 ? `${vs[0]}` : `${vs.slice(0, -1).join(', ')} and ${vs.at(-1)}`;
      return `${model} for version${vs.length === 1 ? '' : 's'} ${list}`;
    })
    .join('; ');
}

/** Results of every posted version so far (the round need not be finished). */
export async function resultsView(store: Store, round: Round): Promise<ResultsView> {
  // A cancelled round never finishes, so what it hid stays hidden.
  const hidden = round.settings.hidden && round.phase !== 'closed';
  const versions: VersionResults[] = [];
  const models: { version: number; model: string }[] = [];
  for (let v = 1; v <= round.version; v++) {
    const poll = await store.polls.poll(round.scope, round.id, v);
    if (!poll) continue;
    // Cancelled before its statement was posted: nobody saw it, so it was put to no vote.
    const unseen =
      round.phase === 'cancelled' &&
      (await store.messages.slot(round.scope, round.id, `statement:${v}`)) === null;
    if (unseen) continue;
    const ratings = await store.polls.ratings(round.scope, poll);
    const scores = await store.polls.scores(round.scope, round.id, v);
    if (scores) models.push({ version: v, model: scores.model });
    const results = pollResults({
      scale: poll.scale,
      ratings,
      predicted: poll.predicted,
      welfare: round.settings.welfare,
      groups: groupsOf(round, scores?.matrix),
    });
    versions.push({
      version: v,
      statement: poll.statement,
      results: hidden ? concealed(results) : results,
      endorsement: hidden ? null : endorsement(results, round.settings.minTurnout),
    });
  }
  const opinions = await store.contributions.list(round.scope, round.id, 'opinion', 0);
  const exclusion = await exclusionCheck(store, round, opinions);
  const withoutOpinion = await critiquedWithoutOpinion(store, round, opinions);
  const anonymous = round.settings.anonymous;
  return {
    ...headerOf(round),
    phase: round.phase,
    hidden,
    anonymous,
    exclusion: anonymous
      ? { ...exclusion, truncated: exclusion.truncated.map(() => '') }
      : exclusion,
    versions: anonymous
      ? versions.map((v) => ({ ...v, results: withoutNames(v.results) }))
      : versions,
    model: modelsByVersion(models),
    participants: opinions.length,
    critiquedWithoutOpinion: anonymous ? withoutOpinion.map(() => '') : withoutOpinion,
    unusedCritiques: await unusedCritiques(store, round),
    usage: await store.usage.byStage(round.scope, round.id),
  };
}

/**
 * Critiques are stored under the version they critique, so in a finished round those of
 * its last version are the ones no revision followed (a revision is the next version).
 */
async function unusedCritiques(store: Store, round: Round): Promise<number> {
  if (round.phase !== 'closed' || round.version === 0) return 0;
  return store.contributions.countAuthors(
    round.scope,
    round.id,
    'critique',
    round.version,
    Number.MAX_SAFE_INTEGER,
  );
}

/**
 * Rater -> opinion group of a scores matrix, when the reward model learned groups. Keyed
 * as the round stores ratings: an anonymous round's under each member's pseudonym.
 */
function groupsOf(
  round: Round,
  matrix: ApprovalMatrix | undefined,
): Record<string, number> | undefined {
  const groups = matrix?.groups;
  if (matrix === undefined || groups === undefined) return undefined;
  const byRater: Record<string, number> = {};
  matrix.participants.forEach((p, i) => {
    byRater[ratingIdOf(round, p)] = groups[i] ?? -1;
  });
  return byRater;
}

/** Members who critiqued some version of the statement but never gave an opinion. */
async function critiquedWithoutOpinion(
  store: Store,
  round: Round,
  opinions: readonly { participantId: string }[],
): Promise<string[]> {
  const gave = new Set(opinions.map((o) => o.participantId));
  const only = new Set<string>();
  for (let v = 1; v <= round.version; v++) {
    const critiques = await store.contributions.list(round.scope, round.id, 'critique', v);
    for (const c of critiques) if (!gave.has(c.participantId)) only.add(c.participantId);
  }
  return [...only].sort();
}

/**
 * What did not reach the statement writer whole: opinions and critiques cut to the
 * length limit (read as the pipeline reads them), and versions written from summaries.
 */
async function exclusionCheck(
  store: Store,
  round: Round,
  opinions: readonly { participantId: string; truncated: boolean }[],
): Promise<ExclusionCheck> {
  const truncated = new Set(opinions.filter((o) => o.truncated).map((o) => o.participantId));
  const summarisedVersions: number[] = [];
  for (let v = 1; v <= round.version; v++) {
    // A revision reads the critiques of the version before it.
    if (v > 1) {
      const critiques = await store.contributions.list(round.scope, round.id, 'critique', v - 1);
      for (const c of critiques) if (c.truncated) truncated.add(c.participantId);
    }
    const set = await store.polls.candidates(round.scope, round.id, v);
    if (set?.notes.some(isSummaryNote)) summarisedVersions.push(v);
  }
  return { truncated: [...truncated].sort(), summarisedVersions };
}

/**
 * The reminder for `version`'s poll: the members who gave an opinion and have not rated
 * it yet, or null when there is nobody to remind (or the poll is over).
 */
export async function reminderView(
  store: Store,
  round: Round,
  version: number,
  now: number,
): Promise<NoticeView | null> {
  if (round.phase !== 'polling' || round.version !== version) return null;
  const poll = await store.polls.poll(round.scope, round.id, version);
  if (!poll) return null;
  const [opinions, ratings] = await Promise.all([
    store.contributions.list(round.scope, round.id, 'opinion', 0),
    store.polls.ratings(round.scope, poll),
  ]);
  const rated = new Set(ratings.map((r) => r.participantId));
  // An anonymous round's ratings are under pseudonyms: match authors by theirs.
  const missing = [...new Set(opinions.map((o) => o.participantId))]
    .filter((id) => !rated.has(ratingIdOf(round, id)))
    .sort();
  if (missing.length === 0) return null;
  const deadline =
    round.deadline === null
      ? ''
      : ` before the poll closes in ${roughDuration(Math.max(0, (round.deadline - now) / 1000))}`;
  if (round.settings.anonymous) {
    // Naming who has not rated would tell who has: the count only.
    return {
      ...headerOf(round),
      text:
        `Reminder: ${missing.length} member${missing.length === 1 ? '' : 's'} who gave an opinion ` +
        `${missing.length === 1 ? 'has' : 'have'} not rated the statement yet. Use its buttons${deadline}; ratings are anonymous.`,
    };
  }
  return {
    ...headerOf(round),
    text:
      `Reminder: ${missing.map((id) => `<@${id}>`).join(', ')}, you gave an opinion but have not ` +
      `rated the statement yet. ${ratesWithButtons(round.settings) ? 'Use its buttons' : 'React on it'}${deadline}: the results count only the ratings given.`,
    mentions: missing,
  };
}

export async function statementView(
  store: Store,
  round: Round,
  version: number,
): Promise<StatementView> {
  const [poll, set, scores] = await Promise.all([
    store.polls.poll(round.scope, round.id, version),
    store.polls.candidates(round.scope, round.id, version),
    store.polls.scores(round.scope, round.id, version),
  ]);
  if (!poll || !set || !scores) throw new Error(`round ${round.id} has no statement v${version}`);
  // The seed the pipeline chose with, so ties are listed in the order they were broken.
  const selection = selectConsensus(
    scores.matrix,
    round.settings.welfare,
    poll.selectionSeed ?? round.seed,
  );
  const byId = new Map<string, Candidate>(set.candidates.map((c) => [c.id, c]));
  return {
    ...headerOf(round),
    version,
    statement: poll.statement,
    options: pollOptions(poll.scale),
    method: poll.method,
    anonymous: round.settings.anonymous,
    buttons: ratesWithButtons(round.settings),
    predicted: round.settings.anonymous
      ? []
      : Object.entries(poll.predicted)
          .map(([participantId, approval]) => ({ participantId, approval }))
          .sort((a, b) => (b.approval ?? -1) - (a.approval ?? -1)),
    considered: selection.ranked.flatMap((r) => {
      const found = byId.get(r.candidateId);
      if (!found) return [];
      // Generators explain a candidate by whose opinion it draws on (member ids).
      const candidate = round.settings.anonymous ? { ...found, explanation: null } : found;
      return [{ candidate, welfare: r.welfare, mean: r.mean }];
    }),
    model: scores.model,
    // The poll's deadline is set once the statement is posted (members can see it from then).
    ...(round.settings.pollMinutes !== null &&
      round.version === version && {
        pollCloses: `The poll closes ${roughDuration(round.settings.pollMinutes * 60)} after this post.`,
      }),
    notes: set.notes,
  };
}
