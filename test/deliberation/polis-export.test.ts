import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { polisExportFiles } from '../../src/deliberation/polis-export.js';
import type { RoundExport } from '../../src/deliberation/service.js';
import { DEFAULT_SETTINGS } from '../../src/domain/round.js';
import type { Scope } from '../../src/domain/scope.js';
import { parseCsv } from '../../src/eval/csv.js';
import { loadConversation } from '../../src/eval/polis.js';

const SCOPE: Scope = { platform: 'console', workspaceId: 'W1' };

/** Every kind of line break and every character CSV must quote, in one text each. */
const TEXTS = {
  ana: 'first line\rsecond line',
  ben: 'windows\r\nline ends, and "quotes"',
  cai: 'unix\nline end',
  dee: 'a, b, "c"',
  eve: 'trailing carriage return\r',
};
const STATEMENT = 'We agree,\rmostly: "a trial"\r\nthen\ndecide.';

/** A stored round as the service gathers it, with the texts above verbatim. */
function roundExport(): RoundExport {
  return {
    round: {
      id: 'r1',
      scope: SCOPE,
      channelId: 'C1',
      question: 'Lunch\rat noon?',
      createdBy: 'mod',
      createdAt: 1_000,
      deadline: null,
      settings: DEFAULT_SETTINGS,
      phase: 'closed',
      questionRef: null,
      version: 1,
      attempt: 1,
      failureReason: null,
      seed: 1,
      followUpPending: false,
    },
    opinions: Object.entries(TEXTS).map(([participantId, text]) => ({
      participantId,
      text,
      truncated: false,
    })),
    versions: [
      {
        version: 1,
        candidates: [],
        predicted: null,
        model: null,
        poll: {
          roundId: 'r1',
          version: 1,
          candidateId: 'c1',
          statement: STATEMENT,
          scale: 'approval3',
          openedAt: 2_000,
          closedAt: 4_000,
          predicted: {},
          welfare: null,
          method: 'test',
        },
        ratings: [
          { participantId: 'ana', optionKey: 'agree', approval: 1, at: 3_000 },
          { participantId: 'ben', optionKey: 'disagree', approval: 0, at: 3_001 },
        ],
        critiques: [],
      },
    ],
    usage: {},
  };
}

describe('the Polis export keeps every text whole', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('reads back CR, CRLF, LF, commas and quotes identically through the Polis loader', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polis-cr-'));
    dirs.push(dir);
    const files = polisExportFiles(SCOPE, [roundExport()]);
    for (const f of files) writeFileSync(join(dir, f.name), f.content);
    const conversation = loadConversation(dir);
    expect(conversation.comments.map((c) => c.text)).toEqual([...Object.values(TEXTS), STATEMENT]);
    expect(conversation.topic).toBe('Lunch\rat noon?');
    expect(conversation.votes).toHaveLength(2);
    // Every file parses into rows of its header's width: no row was split by a bare CR.
    for (const f of files.filter((f) => f.name !== 'summary.csv')) {
      const [header, ...rows] = parseCsv(f.content, f.name);
      for (const row of rows) expect(row.fields).toHaveLength(header?.fields.length ?? 0);
    }
  });

  it('quotes a field holding a bare CR, which csv-stringify alone leaves bare', () => {
    const comments = polisExportFiles(SCOPE, [roundExport()])[0]?.content ?? '';
    expect(comments).toContain(',"first line\rsecond line"\n');
    expect(comments).toContain(',"trailing carriage return\r"\n');
  });

  it('marks a text a spreadsheet would run as a formula as text, and leaves numbers alone', () => {
    const data = roundExport();
    const formulas = [
      '=HYPERLINK("http://x.test","click")',
      "+cmd|' /C calc'!A0",
      '-2+3',
      '@SUM(1)',
      '\t=1',
    ];
    data.opinions = formulas.map((text, i) => ({ participantId: `m${i}`, text, truncated: false }));
    data.round = { ...data.round, question: '=IMPORTXML("http://x.test")' };
    const dir = mkdtempSync(join(tmpdir(), 'polis-formula-'));
    dirs.push(dir);
    const files = polisExportFiles(SCOPE, [data]);
    for (const f of files) writeFileSync(join(dir, f.name), f.content);
    const conversation = loadConversation(dir);
    // No cell of any file begins with a formula character; each such text keeps its words.
    expect(conversation.comments.map((c) => c.text)).toEqual([
      ...formulas.map((t) => `'${t}`),
      STATEMENT,
    ]);
    expect(conversation.topic).toBe(`'=IMPORTXML("http://x.test")`);
    for (const f of files) {
      for (const row of parseCsv(f.content, f.name))
        for (const field of row.fields) expect(field).not.toMatch(/^[=+@\t\r]|^-(?!1$)/);
    }
    // Votes keep their -1.
    expect(conversation.votes.map((v) => v.vote)).toEqual([1, -1]);
  });

  it('counts agrees and disagrees per statement, passes in neither, and voters among the members', () => {
    const data = roundExport();
    const version = data.versions[0]!;
    // Two disagrees and a pass: a pass counted as a disagree would read 1 (or 3), not 2.
    version.ratings = [
      { participantId: 'ana', optionKey: 'agree', approval: 1, at: 3_000 },
      { participantId: 'ben', optionKey: 'disagree', approval: 0, at: 3_001 },
      { participantId: 'cai', optionKey: 'unsure', approval: 0.5, at: 3_002 },
      { participantId: 'dee', optionKey: 'disagree', approval: 0, at: 3_003 },
    ];
    const files = polisExportFiles(SCOPE, [data]);
    const file = (name: string) => {
      const f = files.find((f) => f.name === name);
      if (!f) throw new Error(`no ${name}`);
      return parseCsv(f.content, name).map((r) => r.fields);
    };
    const [header, ...rows] = file('comments.csv');
    const column = (name: string) => header?.indexOf(name) ?? -1;
    const statementRow = rows.find((r) => r[column('comment-body')] === STATEMENT);
    expect(statementRow?.[column('agrees')]).toBe('1');
    expect(statementRow?.[column('disagrees')]).toBe('2');
    // eve gave an opinion and never voted: she is a participant, not a voter.
    const summary = Object.fromEntries(file('summary.csv').map((r) => [r[0], r[1]]));
    expect(summary).toMatchObject({ views: '5', voters: '4', 'voters-in-conv': '4' });
  });
});
