import { usageLines } from '../../deliberation/usage-text.js';
import type {
  CritiqueInviteView,
  ProgressView,
  QuestionView,
  ResultsView,
  StatementView,
} from '../../deliberation/views.js';
import { hiddenNote, unusedCritiquesNote } from '../../deliberation/views.js';
import { clipWords } from '../../domain/limits.js';

const percent = (x: number | null) =>
  x === null ? '  n/a' : `${Math.round(x * 100)}%`.padStart(5);

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function bar(x: number, width = 20): string {
  const filled = Math.round(x * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

function wrap(text: string, width = 88, indent = '    '): string {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + word.length + 1 > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines.map((l) => indent + l).join('\n');
}

export function renderQuestion(view: QuestionView): string {
  const deadline = view.deadline ? `, closes ${new Date(view.deadline).toISOString()}` : '';
  return [
    '',
    `❓ Round ${view.roundId}: ${view.question}`,
    `   Reply in the thread with your opinion (${view.candidates} candidates, ${view.welfare} welfare, ${view.scale} poll${deadline}).`,
  ].join('\n');
}

export function renderProgress(view: ProgressView): string {
  const steps = view.steps.map((s) => `${s.done ? '✓' : '…'} ${s.label}`).join('  ');
  const icon = { stopped: '⚠️', done: '✅', working: '⏳' }[view.state];
  return `   ${icon} ${view.summary}  ${steps}`;
}

export function renderStatement(view: StatementView, nameOf: (id: string) => string): string {
  const lines = [
    '',
    `🗳  Statement (version ${view.version}) for: ${view.question}`,
    wrap(view.statement),
    `   ${view.method} Approvals predicted by ${view.model}.`,
    ...view.notes.map((n) => `   note: ${n}`),
    '   Predicted approval per member:',
    ...view.predicted.map(
      (p) =>
        `     ${nameOf(p.participantId).padEnd(12)} ${percent(p.approval)} ${bar(p.approval ?? 0)}`,
    ),
    `   React with: ${view.options.map((o) => o.label).join(' / ')}`,
  ];
  return lines.join('\n');
}

export function renderCritiqueInvite(view: CritiqueInviteView): string {
  return `\n✍️  What does this statement miss? Reply with a critique; a revised statement follows.\n${wrap(view.statement)}`;
}

export function renderResults(view: ResultsView, nameOf: (id: string) => string): string {
  // An anonymous round's view holds no ids (they are blanked): say how many, never who.
  const who = (ids: readonly string[]) =>
    view.anonymous ? count(ids.length, 'member') : ids.map(nameOf).join(', ');
  const lines = ['', `📊 Results for: ${view.question}`];
  for (const { version, statement, results, endorsement } of view.versions) {
    lines.push(`   Version ${version}: ${clipWords(statement, 90)}`);
    if (view.hidden) {
      lines.push(`   ${count(results.ratingCount, 'rating')} so far. ${hiddenNote(view.phase)}`);
      continue;
    }
    lines.push(
      // Not "1 rating of 4 members": raters who gave no opinion count in the ratings too.
      `   ${count(results.ratingCount, 'rating')} (${count(view.participants, 'member')} gave opinions):`,
    );
    // Zero counts and "n/a" alone read like a glitch; say plainly that nobody rated.
    if (results.ratingCount === 0) lines.push('   no ratings were given for this version');
    const max = Math.max(1, ...results.distribution.map((d) => d.count));
    for (const d of results.distribution) {
      lines.push(
        `     ${d.label.padEnd(9)} ${String(d.count).padStart(3)} ${bar(d.count / max, 15)}`,
      );
    }
    lines.push(
      `   mean approval ${percent(results.meanApproval)}, ${results.welfareFunction} welfare ${results.welfareValue === null ? 'n/a' : results.welfareValue.toFixed(3)}`,
    );
    if (results.welfareNote) lines.push(`   (${results.welfareNote})`);
    if (endorsement) lines.push(`   verdict: ${endorsement}`);
    if (results.leastServed) {
      lines.push(
        `   least served (${results.leastServed.basis}): ${who(results.leastServed.participantIds)} at ${percent(results.leastServed.approval).trim()} — what would make it work for them?`,
      );
    }
    if (results.meanAbsoluteError !== null) {
      lines.push(
        `   predicted vs. rated: mean absolute error ${results.meanAbsoluteError.toFixed(2)} over ${count(results.comparedCount, 'member')}`,
      );
    }
    if (results.predictedLeastServed) {
      lines.push(
        `   predicted to serve worst: ${who(results.predictedLeastServed.participantIds)} at ${percent(results.predictedLeastServed.approval).trim()}`,
      );
    }
  }
  if (view.versions.length > 0) {
    const { truncated, summarisedVersions } = view.exclusion;
    const parts: string[] = [];
    if (truncated.length > 0) parts.push(`cut to the length limit: ${who(truncated)}`);
    if (summarisedVersions.length > 0) {
      parts.push(`written from summaries: version ${summarisedVersions.join(', ')}`);
    }
    lines.push(
      `   exclusion check: ${parts.length > 0 ? parts.join('; ') : 'every opinion reached the statement writer in full'}`,
    );
  }
  if (view.critiquedWithoutOpinion.length > 0) {
    lines.push(`   critiqued without giving an opinion: ${who(view.critiquedWithoutOpinion)}`);
  }
  const unused = unusedCritiquesNote(view.unusedCritiques);
  if (unused) lines.push(`   ${unused}`);
  if (view.model) lines.push(`   approvals were predicted by ${view.model}`);
  for (const line of usageLines(view.usage)) lines.push(`   model use, ${line}`);
  return lines.join('\n');
}
