import { Resvg } from '@resvg/resvg-js';
import type { ResultsView } from '../../deliberation/views.js';

/**
 * The results as a picture: per version, how the ratings split over the poll's options,
 * and the mean approval the model predicted beside the mean members gave. Built as SVG
 * and rasterised with resvg (a Rust renderer shipped as prebuilt binaries), so no browser
 * runs on the server. The chart holds counts and means only, never a member's id, so it
 * is safe for anonymous rounds too.
 */

export const CHART_WIDTH = 720;
/** Versions drawn at most; a long round shows its latest ones (the image stays small). */
export const CHART_MAX_VERSIONS = 8;

const MARGIN = 16;
const LABEL_WIDTH = 44;
const BAR_X = MARGIN + LABEL_WIDTH;
const BAR_WIDTH = 430;
const DIST_ROW = 40;
const MEANS_ROW = 44;
const TITLE = 44;
const SECTION_TITLE = 28;
const LEGEND = 30;
const FOOT = 16;

const FONT = 'DejaVu Sans, Arial, Helvetica, sans-serif';

/** The image's size in pixels for `versions` versions (tests and alt text use it). */
export function chartSize(versions: number): { width: number; height: number } {
  const rows = Math.max(1, Math.min(versions, CHART_MAX_VERSIONS));
  return {
    width: CHART_WIDTH,
    height:
      TITLE + SECTION_TITLE + rows * DIST_ROW + LEGEND + SECTION_TITLE + rows * MEANS_ROW + FOOT,
  };
}

/** Red (no approval) through amber to green (full approval), as on a traffic light. */
function approvalColour(approval: number): string {
  return `hsl(${Math.round(Math.max(0, Math.min(1, approval)) * 120)}, 62%, 44%)`;
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${Math.round(x * 100)}%`);

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x}" y="${y}" font-family="${FONT}" ${attrs}>${escapeXml(content)}</text>`;
}

/** The chart as an SVG document; `resultsChartPng` rasterises it. */
export function resultsChartSvg(view: ResultsView): string {
  const versions = view.versions.slice(-CHART_MAX_VERSIONS);
  const { width, height } = chartSize(versions.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(
      MARGIN,
      28,
      view.versions.length > versions.length
        ? `Results by version (latest ${versions.length} of ${view.versions.length})`
        : 'Results by version',
      'font-size="18" font-weight="bold" fill="#1d1c1d"',
    ),
  ];
  let y = TITLE;
  parts.push(text(MARGIN, y + 18, 'Ratings per option', 'font-size="14" fill="#1d1c1d"'));
  y += SECTION_TITLE;
  if (versions.length === 0) {
    parts.push(
      text(BAR_X, y + 24, 'No statement was put to a vote.', 'font-size="13" fill="#616061"'),
    );
    y += DIST_ROW;
  }
  for (const { version, results } of versions) {
    parts.push(text(MARGIN, y + 24, `v${version}`, 'font-size="13" fill="#1d1c1d"'));
    if (results.ratingCount === 0) {
      parts.push(
        `<rect x="${BAR_X}" y="${y + 8}" width="${BAR_WIDTH}" height="24" fill="#eeeeee"/>`,
        text(BAR_X + 8, y + 25, 'no ratings', 'font-size="12" fill="#616061"'),
      );
    } else {
      let x = BAR_X;
      for (const option of results.distribution) {
        if (option.count === 0) continue;
        const w = (option.count / results.ratingCount) * BAR_WIDTH;
        parts.push(
          `<rect x="${x.toFixed(2)}" y="${y + 8}" width="${w.toFixed(2)}" height="24" fill="${approvalColour(option.approval)}" stroke="#ffffff" stroke-width="1"/>`,
        );
        if (w >= 18) {
          parts.push(
            text(
              x + w / 2,
              y + 25,
              String(option.count),
              'font-size="12" fill="#ffffff" text-anchor="middle"',
            ),
          );
        }
        x += w;
      }
    }
    parts.push(
      text(
        BAR_X + BAR_WIDTH + 12,
        y + 25,
        `${results.ratingCount} rating${results.ratingCount === 1 ? '' : 's'} · mean ${pct(results.meanApproval)}`,
        'font-size="12" fill="#1d1c1d"',
      ),
    );
    y += DIST_ROW;
  }
  // Legend: the options of the (latest) scale, in the scale's order.
  const options = versions.at(-1)?.results.distribution ?? [];
  let lx = BAR_X;
  for (const option of options) {
    parts.push(
      `<rect x="${lx}" y="${y + 8}" width="12" height="12" fill="${approvalColour(option.approval)}"/>`,
      text(lx + 16, y + 18, option.label, 'font-size="11" fill="#1d1c1d"'),
    );
    lx += 22 + option.label.length * 7;
  }
  y += LEGEND;

  parts.push(
    text(MARGIN, y + 18, 'Mean approval: predicted vs. rated', 'font-size="14" fill="#1d1c1d"'),
  );
  y += SECTION_TITLE;
  // Gridlines at 0, 50 and 100% so bar lengths read as percentages.
  const meansTop = y;
  const meansBottom = y + Math.max(1, versions.length) * MEANS_ROW;
  for (const tick of [0, 0.5, 1]) {
    const gx = BAR_X + tick * BAR_WIDTH;
    parts.push(
      `<line x1="${gx}" y1="${meansTop}" x2="${gx}" y2="${meansBottom - 4}" stroke="#dddddd" stroke-width="1"/>`,
      text(gx, meansBottom + 10, pct(tick), 'font-size="10" fill="#616061" text-anchor="middle"'),
    );
  }
  for (const { version, results } of versions) {
    parts.push(text(MARGIN, y + 24, `v${version}`, 'font-size="13" fill="#1d1c1d"'));
    const bars: [string, number | null, string][] = [
      ['predicted', results.meanPredictedApproval, '#8fb3d9'],
      ['rated', results.meanApproval, '#2f5d8a'],
    ];
    bars.forEach(([label, value, colour], i) => {
      const by = y + 6 + i * 17;
      const w = value === null ? 0 : value * BAR_WIDTH;
      parts.push(
        `<rect x="${BAR_X}" y="${by}" width="${w.toFixed(2)}" height="14" fill="${colour}"/>`,
        text(
          BAR_X + BAR_WIDTH + 12,
          by + 11,
          `${label} ${pct(value)}`,
          'font-size="11" fill="#1d1c1d"',
        ),
      );
    });
    y += MEANS_ROW;
  }
  parts.push('</svg>');
  return parts.join('');
}

/** The chart as PNG bytes. */
export function resultsChartPng(view: ResultsView): Uint8Array {
  const resvg = new Resvg(resultsChartSvg(view), {
    fitTo: { mode: 'original' },
    // System fonts for the labels; where none are installed the bars still render.
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

/** One line describing the chart, for screen readers (Slack alt text, Discord description). */
export function chartAltText(view: ResultsView): string {
  const parts = view.versions
    .slice(-CHART_MAX_VERSIONS)
    .map(
      ({ version, results }) =>
        `version ${version}: ${results.distribution.map((d) => `${d.count} ${d.label}`).join(', ')}; mean approval ${pct(results.meanApproval)} rated, ${pct(results.meanPredictedApproval)} predicted`,
    );
  return `Results chart. ${parts.join('. ') || 'No statement was put to a vote.'}`;
}

/** The file's name: the round id tells apart the charts of several rounds in one channel. */
export function chartFilename(view: ResultsView): string {
  return `results-${view.roundId}.png`;
}
