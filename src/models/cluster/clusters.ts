import { createRng } from '../../domain/random.js';
import { quickTerms } from '../text/quick-terms.js';

/**
 * Clustering of a large group's opinions, so that the generator can be given every
 * opinion's weight within its prompt budget: spherical k-means (cosine) over unit
 * vectors — TF-IDF vectors offline, embeddings when a model server gives them.
 *
 * TF-IDF vectors of 2,000 opinions have a few dozen non-zero terms out of thousands, so
 * they are stored sparse (indices + values); embeddings are all non-zero, so they are
 * stored dense, without indices. Centroids are dense, so one point-centroid similarity
 * costs the point's stored values either way.
 */
export interface UnitVector {
  /** Dimensions of `val`, ascending; null when `val` holds every dimension (embeddings). */
  idx: Int32Array | null;
  val: Float64Array;
}

export interface Vectors {
  vectors: UnitVector[];
  dims: number;
  /** Term per dimension for lexical vectors (to name a cluster); null for embeddings. */
  terms: string[] | null;
}

function unitDense(row: readonly number[]): UnitVector {
  const val = Float64Array.from(row);
  let norm = 0;
  for (let d = 0; d < val.length; d++) norm += (val[d] as number) * (val[d] as number);
  norm = Math.sqrt(norm);
  for (let d = 0; d < val.length; d++) val[d] = norm === 0 ? 0 : (val[d] as number) / norm;
  return { idx: null, val };
}

/**
 * TF-IDF vectors of the texts, over quickTerms. A dimension is named by the word most
 * often written for its term, so a cluster's frequent words read as members wrote them.
 */
export function lexicalVectors(texts: readonly string[]): Vectors {
  // Terms as integers from the start (dimension = order of first appearance): Maps and
  // Sets of strings per document were most of the time of clustering 100 opinions.
  const ids = new Map<string, number>();
  const forms: Map<string, number>[] = [];
  const docs = texts.map((text) => {
    const analysed = quickTerms(text);
    const doc = new Int32Array(analysed.length);
    analysed.forEach(({ term, word }, i) => {
      let id = ids.get(term);
      if (id === undefined) {
        id = ids.size;
        ids.set(term, id);
        forms.push(new Map());
      }
      const written = forms[id] as Map<string, number>;
      written.set(word, (written.get(word) ?? 0) + 1);
      doc[i] = id;
    });
    return doc.sort();
  });
  const dims = ids.size;
  // Document frequency, and the weights of TfIdf (text/tfidf.ts) over the sorted ids.
  const df = new Int32Array(dims);
  for (const doc of docs) {
    for (let i = 0; i < doc.length; i++) {
      const id = doc[i] as number;
      if (i === 0 || id !== doc[i - 1]) df[id] = (df[id] as number) + 1;
    }
  }
  const idf = Float64Array.from(df, (d) => Math.log((1 + docs.length) / (1 + d)) + 1);
  const vectors = docs.map((doc): UnitVector => {
    // Runs of equal ids in the sorted document: one dimension each, ascending.
    const idx: number[] = [];
    const val: number[] = [];
    let norm = 0;
    for (let i = 0; i < doc.length; ) {
      const id = doc[i] as number;
      let tf = 0;
      while (i < doc.length && doc[i] === id) {
        tf++;
        i++;
      }
      const weight = (1 + Math.log(tf)) * (idf[id] as number);
      idx.push(id);
      val.push(weight);
      norm += weight * weight;
    }
    norm = Math.sqrt(norm);
    return {
      idx: Int32Array.from(idx),
      val: Float64Array.from(val, (v) => (norm === 0 ? 0 : v / norm)),
    };
  });
  const terms = [...ids.keys()].map((term, id) => mostWritten(forms[id]) ?? term);
  return { vectors, dims, terms };
}

/** The most frequent form; the first seen on ties. */
function mostWritten(forms: ReadonlyMap<string, number> | undefined): string | undefined {
  let best: string | undefined;
  let most = 0;
  for (const [word, n] of forms ?? []) {
    if (n > most) {
      best = word;
      most = n;
    }
  }
  return best;
}

/** Embeddings (dense rows of one length) as unit vectors. */
export function embeddingVectors(rows: readonly (readonly number[])[]): Vectors {
  const dims = rows[0]?.length ?? 0;
  return { vectors: rows.map(unitDense), dims, terms: null };
}

function dotDense(v: UnitVector, centroid: Float64Array): number {
  const { idx, val } = v;
  let s = 0;
  if (idx === null) {
    for (let j = 0; j < val.length; j++) s += (val[j] as number) * (centroid[j] as number);
  } else {
    for (let j = 0; j < idx.length; j++)
      s += (val[j] as number) * (centroid[idx[j] as number] as number);
  }
  return s;
}

/** centroid += v */
function addTo(centroid: Float64Array, v: UnitVector): void {
  const { idx, val } = v;
  if (idx === null) {
    for (let j = 0; j < val.length; j++) centroid[j] = (centroid[j] as number) + (val[j] as number);
  } else {
    for (let j = 0; j < idx.length; j++) {
      const d = idx[j] as number;
      centroid[d] = (centroid[d] as number) + (val[j] as number);
    }
  }
}

/**
 * Seeded spherical k-means with k-means++ seeding. Every point ends in exactly one
 * cluster; clusters left empty are dropped and the rest renumbered 0..k'-1, so cluster
 * sizes always add up to the number of points.
 */
export function kmeans(
  data: Vectors,
  k: number,
  seed: number | string,
  iterations = 12,
): { assignment: Int32Array; clusters: number } {
  const n = data.vectors.length;
  const assignment = new Int32Array(n);
  const want = Math.max(1, Math.min(k, n));
  if (n === 0 || want === 1) return { assignment, clusters: n === 0 ? 0 : 1 };
  const rng = createRng(`kmeans:${seed}`);
  const centroids: Float64Array[] = [];
  const place = (v: UnitVector) => {
    const c = new Float64Array(data.dims);
    addTo(c, v);
    centroids.push(c);
  };
  place(data.vectors[Math.floor(rng.next() * n)] as UnitVector);
  // k-means++: each next centre far (in cosine distance) from those chosen.
  const nearest = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  while (centroids.length < want) {
    const last = centroids[centroids.length - 1] as Float64Array;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.max(0, 1 - dotDense(data.vectors[i] as UnitVector, last));
      if (d < (nearest[i] as number)) nearest[i] = d;
      total += (nearest[i] as number) ** 2;
    }
    if (total === 0) break; // every point sits on a centre already
    let r = rng.next() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= (nearest[i] as number) ** 2;
      if (r <= 0) {
        pick = i;
        break;
      }
    }
    place(data.vectors[pick] as UnitVector);
  }
  const kk = centroids.length;
  // Dense points (embeddings) and centroids in one array each, so the assignment step,
  // which is nearly all of the time, runs over contiguous memory without indices.
  const dense = data.vectors.every((v) => v.idx === null) ? flatten(data.vectors, data.dims) : null;
  const flat = dense ? new Float64Array(kk * data.dims) : null;
  for (let it = 0; it < iterations; it++) {
    let moved = 0;
    if (dense && flat) {
      centroids.forEach((c, ci) => {
        flat.set(c, ci * data.dims);
      });
      moved = assignDense(dense, flat, n, kk, data.dims, assignment, it === 0);
    } else {
      for (let i = 0; i < n; i++) {
        const v = data.vectors[i] as UnitVector;
        let best = 0;
        let bestSim = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < kk; c++) {
          const sim = dotDense(v, centroids[c] as Float64Array);
          if (sim > bestSim) {
            bestSim = sim;
            best = c;
          }
        }
        if (assignment[i] !== best || it === 0) moved++;
        assignment[i] = best;
      }
    }
    if (moved === 0) break;
    for (const c of centroids) c.fill(0);
    for (let i = 0; i < n; i++) {
      addTo(centroids[assignment[i] as number] as Float64Array, data.vectors[i] as UnitVector);
    }
    for (const c of centroids) {
      let norm = 0;
      for (const x of c) norm += x * x;
      norm = Math.sqrt(norm);
      if (norm > 0) for (let d = 0; d < c.length; d++) c[d] = (c[d] as number) / norm;
    }
  }
  // Renumber so that no cluster is empty.
  const renumber = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const c = assignment[i] as number;
    if (!renumber.has(c)) renumber.set(c, renumber.size);
    assignment[i] = renumber.get(c) as number;
  }
  return { assignment, clusters: renumber.size };
}

function flatten(vectors: readonly UnitVector[], dims: number): Float64Array {
  const out = new Float64Array(vectors.length * dims);
  vectors.forEach((v, i) => {
    out.set(v.val, i * dims);
  });
  return out;
}

/** Each point to its most similar centroid (the first on ties); returns how many moved. */
function assignDense(
  points: Float64Array,
  centroids: Float64Array,
  n: number,
  k: number,
  dims: number,
  assignment: Int32Array,
  first: boolean,
): number {
  let moved = 0;
  for (let i = 0; i < n; i++) {
    const p = i * dims;
    let best = 0;
    let bestSim = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      const q = c * dims;
      let sim = 0;
      for (let d = 0; d < dims; d++)
        sim += (points[p + d] as number) * (centroids[q + d] as number);
      if (sim > bestSim) {
        bestSim = sim;
        best = c;
      }
    }
    if (assignment[i] !== best || first) moved++;
    assignment[i] = best;
  }
  return moved;
}

/** What the generator is given about one cluster of opinions. */
export interface ClusterSummary {
  /** Opinions in the cluster: every opinion is counted in exactly one cluster. */
  size: number;
  /** Its share of all opinions, in whole percent. */
  percent: number;
  /** Words its opinions use most (lexical vectors only). */
  terms: string[];
  /** Opinions written in it, verbatim, the most central first (long ones cut with "…"). */
  quotes: string[];
}

export interface SummaryShape {
  clusters: number;
  quotes: number;
  quoteChars: number;
  terms: number;
}

/** Cuts a quote at a word boundary; the "…" says it was cut. */
export function cutQuote(text: string, chars: number): string {
  const t = text.trim().replace(/\s+/g, ' ');
  if (t.length <= chars) return t;
  let cut = t.slice(0, Math.max(1, chars - 1));
  // Never half an emoji (or any character beyond the BMP): a lone surrogate is no longer
  // the member's words; the prompt's data block carried it as a "\ud83d" escape.
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  const space = cut.lastIndexOf(' ');
  return `${space > chars / 2 ? cut.slice(0, space) : cut}…`;
}

/**
 * A clustering's members in order of centrality, worked out once and cut to any
 * summary shape: summariseWithin tries up to three shapes per clustering.
 */
interface RankedCluster {
  /** Most central first (highest similarity to the cluster's summed vector), ties by index. */
  central: number[];
  /** Dimensions with positive weight, heaviest first; computed when first asked for. */
  termOrder: () => number[];
}

function rankClusters(data: Vectors, assignment: Int32Array, clusters: number): RankedCluster[] {
  const members: number[][] = Array.from({ length: clusters }, () => []);
  assignment.forEach((c, i) => {
    members[c]?.push(i);
  });
  return members.map((ids) => {
    const centroid = new Float64Array(data.dims);
    for (const i of ids) addTo(centroid, data.vectors[i] as UnitVector);
    // Each similarity once, not once per comparison of the sort.
    const sim = new Map(ids.map((i) => [i, dotDense(data.vectors[i] as UnitVector, centroid)]));
    const central = [...ids].sort(
      (a, b) => (sim.get(b) as number) - (sim.get(a) as number) || a - b,
    );
    let order: number[] | null = null;
    const termOrder = () => {
      order ??= [...centroid.keys()]
        .filter((d) => (centroid[d] as number) > 0)
        .sort((a, b) => (centroid[b] as number) - (centroid[a] as number) || a - b);
      return order;
    };
    return { central, termOrder };
  });
}

function summariesOf(
  texts: readonly string[],
  data: Vectors,
  ranked: readonly RankedCluster[],
  shape: Omit<SummaryShape, 'clusters'>,
): ClusterSummary[] {
  const out = ranked.map(({ central, termOrder }) => {
    const quotes: string[] = [];
    const seen = new Set<string>();
    for (const i of central) {
      if (quotes.length >= shape.quotes) break;
      const q = cutQuote(texts[i] ?? '', shape.quoteChars);
      if (q === '' || seen.has(q.toLowerCase())) continue;
      seen.add(q.toLowerCase());
      quotes.push(q);
    }
    const terms =
      data.terms === null || shape.terms <= 0
        ? []
        : termOrder()
            .slice(0, shape.terms)
            .map((d) => (data.terms as string[])[d] as string);
    return {
      size: central.length,
      percent: Math.round((100 * central.length) / Math.max(1, texts.length)),
      terms,
      quotes,
    };
  });
  return out.sort((a, b) => b.size - a.size);
}

/** Summaries of a clustering, largest cluster first. */
export function summarise(
  texts: readonly string[],
  data: Vectors,
  assignment: Int32Array,
  clusters: number,
  shape: Omit<SummaryShape, 'clusters'>,
): ClusterSummary[] {
  return summariesOf(texts, data, rankClusters(data, assignment, clusters), shape);
}

/** Shapes tried in order, richest first, until the prompt fits its budget. */
export function shapesFor(count: number, maxClusters: number): SummaryShape[] {
  const shapes: SummaryShape[] = [];
  const counts = [maxClusters, 12, 9, 6, 4, 3, 2, 1].filter(
    (c) => c <= Math.min(maxClusters, count),
  );
  for (const c of new Set(counts)) {
    shapes.push({ clusters: c, quotes: 3, quoteChars: 400, terms: 6 });
    shapes.push({ clusters: c, quotes: 2, quoteChars: 300, terms: 6 });
    shapes.push({ clusters: c, quotes: 1, quoteChars: 240, terms: 5 });
  }
  shapes.push({ clusters: 1, quotes: 1, quoteChars: 120, terms: 3 });
  shapes.push({ clusters: 1, quotes: 0, quoteChars: 0, terms: 0 });
  return shapes;
}

export interface FittedSummaries {
  summaries: ClusterSummary[];
  /** Cluster per opinion, in the texts' order. */
  assignment: Int32Array;
  shape: SummaryShape;
}

/**
 * The richest summaries (most clusters, then most and longest quotes) for which `fits`
 * holds. Clusterings (and their members' order) are computed once per cluster count. The last shape (one cluster,
 * sizes only) is returned even when it does not fit: the caller checks again.
 */
export function summariseWithin(
  texts: readonly string[],
  data: Vectors,
  seed: number | string,
  fits: (summaries: ClusterSummary[]) => boolean,
  maxClusters = 16,
): FittedSummaries {
  const clusterings = new Map<number, { assignment: Int32Array; ranked: RankedCluster[] }>();
  const shapes = shapesFor(texts.length, maxClusters);
  let last: FittedSummaries | null = null;
  for (const shape of shapes) {
    let clustering = clusterings.get(shape.clusters);
    if (!clustering) {
      const { assignment, clusters } = kmeans(data, shape.clusters, seed);
      clustering = { assignment, ranked: rankClusters(data, assignment, clusters) };
      clusterings.set(shape.clusters, clustering);
    }
    const summaries = summariesOf(texts, data, clustering.ranked, shape);
    last = { summaries, assignment: clustering.assignment, shape };
    if (fits(summaries)) return last;
  }
  if (!last) throw new Error('no opinions to summarise');
  return last;
}
