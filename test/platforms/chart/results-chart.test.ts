import { describe, expect, it } from 'vitest';
import type { ResultsView, VersionResults } from '../../../src/deliberation/views.js';
import type { Rating } from '../../../src/domain/rating.js';
import { pollResults } from '../../../src/domain/results.js';
import {
  CHART_MAX_VERSIONS,
  chartAltText,
  chartSize,
  resultsChartPng,
  resultsChartSvg,
} from '../../../src/platforms/chart/results-chart.js';
import { decodePng, pngSize } from '../../support/png.js';

const rating = (participantId: string, optionKey: string, approval: number): Rating => ({
  participantId,
  optionKey,
  approval,
  at: 1,
});

function version(n: number, ratings: Rating[]): VersionResults {
  return {
    version: n,
    statement: `Statement ${n}`,
    results: pollResults({
      scale: 'approval3',
      ratings,
      predicted: { U_SECRET_1: 0.7, U_SECRET_2: 0.4 },
      welfare: 'egalitarian',
    }),
    endorsement: null,
  };
}

function view(versions: VersionResults[]): ResultsView {
  return {
    roundId: 'r1',
    channelId: 'C1',
    question: 'Q?',
    thread: null,
    phase: 'closed',
    hidden: false,
    anonymous: false,
    versions,
    model: 'lexical',
    participants: 2,
    usage: {},
    critiquedWithoutOpinion: [],
    unusedCritiques: 0,
    exclusion: { truncated: [], summarisedVersions: [] },
  };
}

describe('the results chart', () => {
  it('is a PNG of the expected size, for two versions', () => {
    const v = view([
      version(1, [rating('U_SECRET_1', 'agree', 1), rating('U_SECRET_2', 'disagree', 0)]),
      version(2, [rating('U_SECRET_1', 'agree', 1), rating('U_SECRET_2', 'unsure', 0.5)]),
    ]);
    const png = resultsChartPng(v);
    expect(pngSize(png)).toEqual(chartSize(2));
    // Bigger than a blank canvas: the bars were drawn.
    expect(png.length).toBeGreaterThan(2_000);
  });

  it('draws a chart with one rating, and one with none (saying so)', () => {
    const one = resultsChartPng(view([version(1, [rating('U_SECRET_1', 'agree', 1)])]));
    expect(pngSize(one)).toEqual(chartSize(1));
    expect(decodePng(one)).toMatchObject(chartSize(1));
    const none = view([version(1, [])]);
    expect(resultsChartSvg(none)).toContain('no ratings');
    expect(pngSize(resultsChartPng(none))).toEqual(chartSize(1));
    const empty = view([]);
    expect(resultsChartSvg(empty)).toContain('No statement was put to a vote.');
    expect(pngSize(resultsChartPng(empty))).toEqual(chartSize(0));
  });

  it('never names a member (safe for anonymous rounds)', () => {
    const v = view([version(1, [rating('U_SECRET_1', 'agree', 1)])]);
    expect(resultsChartSvg(v)).not.toContain('U_SECRET');
    expect(chartAltText(v)).not.toContain('U_SECRET');
    expect(chartAltText(v)).toContain('version 1: 1 agree, 0 unsure, 0 disagree');
  });

  it('keeps a long round to its latest versions', () => {
    const many = Array.from({ length: CHART_MAX_VERSIONS + 3 }, (_, i) => version(i + 1, []));
    const svg = resultsChartSvg(view(many));
    expect(svg).toContain(`latest ${CHART_MAX_VERSIONS} of ${CHART_MAX_VERSIONS + 3}`);
    expect(svg).not.toContain('>v1<');
    expect(pngSize(resultsChartPng(view(many)))).toEqual(chartSize(CHART_MAX_VERSIONS));
  });

  it('has a PNG check that fails on a damaged file (so passing it means something)', () => {
    const png = Buffer.from(
      resultsChartPng(view([version(1, [rating('U_SECRET_1', 'agree', 1)])])),
    );
    const damaged = Buffer.from(png);
    const middle = Math.floor(damaged.length / 2);
    damaged[middle] = (damaged[middle] ?? 0) ^ 0xff;
    expect(() => decodePng(damaged)).toThrow(/CRC|IDAT|inflate|incorrect|invalid/i);
    expect(() => decodePng(png.subarray(0, 40))).toThrow();
  });
});
