import { createRng, type Rng } from '../../domain/random.js';
import type { SparseRatings } from './factorisation.js';

/**
 * Opinion groups found from the ratings alone, the way Polis finds its groups: project
 * members onto the first principal components of their centred votes, then k-means,
 * with the number of groups chosen by silhouette. Bridging needs groups, and a member
 * of the bot's workspace has no group label, so they are learned.
 */

export interface ClusterOptions {
  components: number;
  /**
   * Members with fewer ratings (or fewer than every rated statement, when there are
   * fewer) are left unclustered: their position is mostly noise.
   */
  minRatings: number;
  /** When fewer members qualify, the most active are clustered up to this many (as Polis does). */
  minClustered: number;
  minGroups: number;
  maxGroups: number;
  restarts: number;
  seed: number;
}

export const DEFAULT_CLUSTER_OPTIONS: ClusterOptions = {
  components: 2,
  minRatings: 7,
  minClustered: 15,
  minGroups: 2,
  maxGroups: 5,
  restarts: 5,
  seed: 0,
};

export interface Clustering {
  groups: number;
  /** Group per member, -1 when unclustered. */
  assignment: Int32Array;
}

export function opinionClusters(
  ratings: SparseRatings,
  options: ClusterOptions = DEFAULT_CLUSTER_OPTIONS,
): Clustering {
  const m = ratings.members;
  const s = ratings.statements;
  const none = { groups: 0, assignment: new Int32Array(m).fill(-1) };
  if (m === 0 || s === 0) return none;

  // Votes on the -1..1 scale, centred per statement so that a member's position says how
  // they differ from the room, not how agreeable they are overall.
  const sum = new Float64Array(s);
  const count = new Float64Array(s);
  const perMember = new Int32Array(m);
  for (let i = 0; i < ratings.value.length; i++) {
    const c = ratings.statement[i] as number;
    sum[c] = (sum[c] ?? 0) + 2 * (ratings.value[i] as number) - 1;
    count[c] = (count[c] ?? 0) + 1;
    perMember[ratings.member[i] as number] = (perMember[ratings.member[i] as number] ?? 0) + 1;
  }
  const rows: SparseRow[] = Array.from({ length: m }, () => ({
    index: [],
    value: [],
  }));
  for (let i = 0; i < ratings.value.length; i++) {
    const u = ratings.member[i] as number;
    const c = ratings.statement[i] as number;
    const row = rows[u] as { index: number[]; value: number[] };
    row.index.push(c);
    row.value.push(
      2 * (ratings.value[i] as number) - 1 - (sum[c] as number) / (count[c] as number),
    );
  }
  const ratedStatements = count.reduce((n, x) => n + (x > 0 ? 1 : 0), 0);
  const members = clusteredMembers(perMember, ratedStatements, options);
  if (members.length < 2 * options.minGroups) return none;

  const rng = createRng(options.seed);
  // The axes come from every member with a rating, as Polis computes them; only the
  // placing into groups is limited to members with enough ratings.
  const axes = principalAxes(
    rows.filter((row) => row.index.length > 0),
    s,
    options.components,
    rng,
  );
  // Polis scales a sparse member's projection up by sqrt(statements / rated): unrated
  // statements count as zero, which would otherwise pull them to the centre.
  const points = members.map((u) => {
    const { index, value } = rows[u] as { index: number[]; value: number[] };
    const scale = Math.sqrt(ratedStatements / index.length);
    return axes.map((axis) => {
      let p = 0;
      for (let a = 0; a < index.length; a++)
        p += (value[a] as number) * (axis[index[a] as number] as number);
      return p * scale;
    });
  });

  const fits: { labels: Int32Array; k: number }[] = [];
  for (let k = options.minGroups; k <= Math.min(options.maxGroups, members.length - 1); k++) {
    fits.push({ labels: bestKMeans(points, k, options.restarts, rng), k });
  }
  const scores = silhouettes(points, fits);
  let best: { labels: Int32Array; k: number; score: number } | null = null;
  for (let f = 0; f < fits.length; f++) {
    const score = scores[f] as number;
    if (best === null || score > best.score)
      best = { ...(fits[f] as (typeof fits)[number]), score };
  }
  if (best === null) return none;
  const assignment = new Int32Array(m).fill(-1);
  members.forEach((u, i) => {
    assignment[u] = best.labels[i] as number;
  });
  return { groups: best.k, assignment };
}

/**
 * Polis's rule for who is clustered: at least minRatings ratings, or every rated
 * statement when there are fewer; if that leaves fewer than minClustered members, the
 * most active members are added (a small round still gets groups).
 */
function clusteredMembers(
  perMember: Int32Array,
  ratedStatements: number,
  options: ClusterOptions,
): number[] {
  const threshold = Math.min(options.minRatings, ratedStatements);
  const active: number[] = [];
  perMember.forEach((n, u) => {
    if (n > 0) active.push(u);
  });
  const qualified = active.filter((u) => perMember[u]! >= threshold);
  if (qualified.length >= options.minClustered) return qualified;
  // Most ratings first, ties by index, so the choice is deterministic.
  const byActivity = [...active].sort((a, b) => perMember[b]! - perMember[a]! || a - b);
  return byActivity
    .slice(0, Math.max(options.minClustered, qualified.length))
    .sort((a, b) => a - b);
}

interface SparseRow {
  index: number[];
  value: number[];
}

/**
 * Leading eigenvectors of X'X (X: the members' centred rows) by power iteration with
 * deflation. X'X v is computed as the sum of x (x . v) over rows, never forming the
 * statements x statements matrix: on a sparse conversation that is far cheaper.
 */
function principalAxes(
  rows: readonly SparseRow[],
  n: number,
  count: number,
  rng: Rng,
): Float64Array[] {
  const axes: Float64Array[] = [];
  for (let q = 0; q < count; q++) {
    let v: Float64Array = Float64Array.from({ length: n }, () => rng.next() - 0.5);
    for (let iter = 0; iter < 200; iter++) {
      const w = gramTimes(rows, v);
      for (const a of axes) {
        let d = 0;
        for (let i = 0; i < n; i++) d += w[i]! * a[i]!;
        for (let i = 0; i < n; i++) w[i]! -= d * a[i]!;
      }
      let norm = 0;
      for (const x of w) norm += x * x;
      norm = Math.sqrt(norm);
      if (norm === 0) break;
      let change = 0;
      for (let i = 0; i < n; i++) {
        const x = w[i]! / norm;
        change += Math.abs(x - v[i]!);
        w[i] = x;
      }
      v = w;
      // The axes only place members for k-means: four digits are plenty.
      if (change < 1e-4) break;
    }
    axes.push(v);
  }
  return axes;
}

function gramTimes(rows: readonly SparseRow[], v: Float64Array): Float64Array {
  const w = new Float64Array(v.length);
  for (const { index, value } of rows) {
    let p = 0;
    for (let a = 0; a < index.length; a++) p += value[a]! * v[index[a]!]!;
    for (let a = 0; a < index.length; a++) w[index[a]!]! += p * value[a]!;
  }
  return w;
}

function distance2(a: readonly number[], b: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += ((a[i] as number) - (b[i] as number)) ** 2;
  return d;
}

function bestKMeans(points: readonly number[][], k: number, restarts: number, rng: Rng) {
  let best: { labels: Int32Array; inertia: number } | null = null;
  for (let r = 0; r < restarts; r++) {
    const fit = kMeans(points, k, rng);
    if (best === null || fit.inertia < best.inertia) best = fit;
  }
  return (best as { labels: Int32Array }).labels;
}

/** Lloyd's k-means from a k-means++ start. */
function kMeans(points: readonly number[][], k: number, rng: Rng) {
  const n = points.length;
  const centres: number[][] = [[...(points[Math.floor(rng.next() * n)] as number[])]];
  const nearest = points.map((p) => distance2(p, centres[0] as number[]));
  while (centres.length < k) {
    const total = nearest.reduce((a, b) => a + b, 0);
    let pick = rng.next() * total;
    let chosen = n - 1;
    for (let i = 0; i < n; i++) {
      pick -= nearest[i] as number;
      if (pick <= 0) {
        chosen = i;
        break;
      }
    }
    const centre = [...(points[chosen] as number[])];
    centres.push(centre);
    points.forEach((p, i) => {
      nearest[i] = Math.min(nearest[i] as number, distance2(p, centre));
    });
  }
  const labels = new Int32Array(n);
  let inertia = 0;
  for (let iter = 0; iter < 100; iter++) {
    let moved = false;
    inertia = 0;
    points.forEach((p, i) => {
      let bestC = 0;
      let bestD = Number.POSITIVE_INFINITY;
      centres.forEach((c, j) => {
        const d = distance2(p, c);
        if (d < bestD) {
          bestD = d;
          bestC = j;
        }
      });
      inertia += bestD;
      if (labels[i] !== bestC || iter === 0) moved = true;
      labels[i] = bestC;
    });
    if (!moved) break;
    const dims = (points[0] as number[]).length;
    const sums = centres.map(() => new Array<number>(dims).fill(0));
    const sizes = new Array<number>(k).fill(0);
    points.forEach((p, i) => {
      const g = labels[i] as number;
      sizes[g] = (sizes[g] as number) + 1;
      p.forEach((x, d) => {
        (sums[g] as number[])[d] = ((sums[g] as number[])[d] as number) + x;
      });
    });
    centres.forEach((c, j) => {
      if ((sizes[j] as number) === 0) return;
      for (let d = 0; d < dims; d++)
        c[d] = ((sums[j] as number[])[d] as number) / (sizes[j] as number);
    });
  }
  return { labels, inertia };
}

/**
 * Mean silhouette of each labelling: how much closer each point is to its own group than
 * to the next. O(n^2) in the points, so each distance is computed once, for both of its
 * points and for every labelling: at 10,000 members this loop is most of the clustering's
 * time. Point p still adds up its distances in the order j = 0, 1, ..., as one loop per
 * point would, so the scores are the same to the last bit.
 */
function silhouettes(
  points: readonly number[][],
  fits: readonly { labels: Int32Array; k: number }[],
): number[] {
  const n = points.length;
  const dims = points[0]?.length ?? 0;
  const flat = new Float64Array(n * dims);
  points.forEach((p, i) => {
    flat.set(p, i * dims);
  });
  const fitCount = fits.length;
  // Every labelling's groups side by side: point j is in slot slotOf[j * fitCount + f].
  const offset = new Int32Array(fitCount);
  let slots = 0;
  fits.forEach((fit, f) => {
    offset[f] = slots;
    slots += fit.k;
  });
  const slotOf = new Int32Array(n * fitCount);
  const groupSize = new Int32Array(slots);
  for (let j = 0; j < n; j++) {
    for (let f = 0; f < fitCount; f++) {
      const slot =
        (offset[f] as number) + ((fits[f] as { labels: Int32Array }).labels[j] as number);
      slotOf[j * fitCount + f] = slot;
      groupSize[slot] = (groupSize[slot] as number) + 1;
    }
  }
  // sums[p * slots + slot]: point p's distances to the points of that group.
  const sums = new Float64Array(n * slots);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      // The same sum, in the same order, as distance2.
      let d2 = 0;
      for (let c = 0; c < dims; c++) {
        const diff = (flat[i * dims + c] as number) - (flat[j * dims + c] as number);
        d2 += diff ** 2;
      }
      const d = Math.sqrt(d2);
      for (let f = 0; f < fitCount; f++) {
        const toJ = i * slots + (slotOf[j * fitCount + f] as number);
        const toI = j * slots + (slotOf[i * fitCount + f] as number);
        sums[toJ] = (sums[toJ] as number) + d;
        sums[toI] = (sums[toI] as number) + d;
      }
    }
  }
  const totals = fits.map(() => 0);
  for (let i = 0; i < n; i++) {
    fits.forEach((fit, f) => {
      const first = offset[f] as number;
      const own = slotOf[i * fitCount + f] as number;
      // The others in a group: everyone in it, but for the point itself in its own.
      const others = (slot: number) => (groupSize[slot] as number) - (slot === own ? 1 : 0);
      if (others(own) === 0) return;
      const a = (sums[i * slots + own] as number) / others(own);
      let b = Number.POSITIVE_INFINITY;
      for (let g = first; g < first + fit.k; g++) {
        if (g === own || others(g) === 0) continue;
        b = Math.min(b, (sums[i * slots + g] as number) / others(g));
      }
      if (Number.isFinite(b)) totals[f] = (totals[f] as number) + (b - a) / Math.max(a, b);
    });
  }
  return totals.map((total) => total / n);
}
