/**
 * The whole record of one round, as `/consensus export` and the operators' `npm run export`
 * hand it out (and the Polis export converts it). It is read-only and gathers more than any
 * view, so it lives apart from the service's commands; an anonymous round's export is
 * relabelled here, as a pure function of the gathered data, before it leaves the bot.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Candidate } from '../domain/candidate.js';
import type { Poll, Rating } from '../domain/rating.js';
import type { Round } from '../domain/round.js';
import type { Store } from '../store/store.js';

export interface RoundExport {
  round: Round;
  opinions: { participantId: string; text: string; truncated: boolean }[];
  versions: {
    version: number;
    candidates: Candidate[];
    predicted: {
      participants: string[];
      candidates: string[];
      approvals: (number | null)[][];
    } | null;
    model: string | null;
    poll: Poll | null;
    ratings: Rating[];
    critiques: { participantId: string; text: string }[];
  }[];
  usage: Record<string, { calls: number; promptTokens: number; completionTokens: number }>;
}

/**
 * Everything stored about `round`, anonymised when the round is anonymous. `raterKey`
 * orders an anonymous round's raters; drawn afresh for each export unless given (tests).
 */
export async function roundExport(
  store: Store,
  round: Round,
  raterKey: Buffer = randomBytes(32),
): Promise<RoundExport> {
  const opinions = await store.contributions.list(round.scope, round.id, 'opinion', 0);
  // Anyone may export, so a hidden round's ratings wait for the finish here too.
  const hidden = round.settings.hidden && round.phase !== 'closed';
  const versions: RoundExport['versions'] = [];
  for (let v = 1; v <= round.version; v++) {
    const [set, scores, poll] = await Promise.all([
      store.polls.candidates(round.scope, round.id, v),
      store.polls.scores(round.scope, round.id, v),
      store.polls.poll(round.scope, round.id, v),
    ]);
    const critiques = await store.contributions.list(round.scope, round.id, 'critique', v);
    versions.push({
      version: v,
      candidates: set?.candidates ?? [],
      predicted: scores?.matrix ?? null,
      model: scores?.model ?? null,
      poll,
      ratings: poll && !hidden ? await store.polls.ratings(round.scope, poll) : [],
      critiques,
    });
  }
  const usage = await store.usage.byStage(round.scope, round.id);
  if (round.settings.anonymous) {
    return anonymousExport({ round, opinions, versions, usage }, raterKey);
  }
  return { round, opinions, versions, usage };
}

/**
 * An anonymous round's export: members of the opinions are numbered (`member-1` …) in
 * the order they wrote, raters apart (`rater-1` …), so neither a platform id nor the
 * link between an opinion and a rating leaves the bot.
 */
function anonymousExport(data: RoundExport, raterKey: Buffer): RoundExport {
  // Numbered in the order they wrote: opinion authors, then members who only critiqued,
  // then anyone else the predictions name. Every id gets its own label.
  const labels = new Map<string, string>();
  const ids = [
    ...data.opinions.map((o) => o.participantId),
    ...data.versions.flatMap((v) => v.critiques.map((c) => c.participantId)),
    ...data.versions.flatMap((v) => v.predicted?.participants ?? []),
    ...data.versions.flatMap((v) => Object.keys(v.poll?.predicted ?? {})),
  ];
  for (const id of ids) if (!labels.has(id)) labels.set(id, `member-${labels.size + 1}`);
  const label = (id: string) => labels.get(id) ?? 'member';
  const rater = raterNumbers(data.versions, raterKey);
  // Generators explain a candidate by whose sentences it composes: those ids go too.
  // Longest ids first, so an id that contains another is replaced whole.
  const byLength = [...labels].sort((a, b) => b[0].length - a[0].length);
  const scrub = (text: string) => byLength.reduce((t, [id, name]) => t.split(id).join(name), text);
  return {
    ...data,
    round: { ...data.round, createdBy: 'moderator' },
    opinions: data.opinions.map((o) => ({ ...o, participantId: label(o.participantId) })),
    versions: data.versions.map((v) => ({
      ...v,
      candidates: v.candidates.map((c) => ({
        ...c,
        explanation: c.explanation === null ? null : scrub(c.explanation),
      })),
      predicted: v.predicted && {
        ...v.predicted,
        participants: v.predicted.participants.map(label),
      },
      poll: v.poll && {
        ...v.poll,
        method: scrub(v.poll.method),
        predicted: Object.fromEntries(
          Object.entries(v.poll.predicted).map(([id, u]) => [label(id), u]),
        ),
      },
      critiques: v.critiques.map((c) => ({ ...c, participantId: label(c.participantId) })),
      // The export carries the round's id and seed, the pseudonyms' key: raters are
      // numbered instead, or anyone with a member list could recompute who rated what.
      ratings: v.ratings
        .map((r) => ({ r, n: rater(r.participantId) }))
        .sort((a, b) => a.n - b.n)
        .map(({ r, n }) => ({ ...r, participantId: `rater-${n}` })),
    })),
  };
}

/**
 * Each rater's number, the same in every version. The store lists ratings by pseudonym,
 * and the export carries the round's id and seed that the pseudonyms are made from: in
 * that order (or numbered by it), anyone with the member list could sort the members'
 * pseudonyms and read off who is which rater. So raters are numbered, and listed, by a
 * keyed hash under a key drawn for the export and kept nowhere.
 */
function raterNumbers(versions: RoundExport['versions'], key: Buffer) {
  const pseudonyms = [...new Set(versions.flatMap((v) => v.ratings.map((r) => r.participantId)))];
  const rank = (id: string) => createHmac('sha256', key).update(id).digest('hex');
  const ranked = pseudonyms.map((id) => ({ id, rank: rank(id) }));
  ranked.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0));
  const numbers = new Map(ranked.map(({ id }, i) => [id, i + 1]));
  return (pseudonymId: string) => numbers.get(pseudonymId) ?? 0;
}
