import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { writePolisExport } from '../../src/app/export.js';
import { BOT_XID } from '../../src/deliberation/polis-export.js';
import type { Scope } from '../../src/domain/scope.js';
import { loadConversation } from '../../src/eval/polis.js';
import { finish, rate, roundToPoll } from '../deliberation/learning-support.js';
import { runWithClosedOutput } from '../support/closed-output.js';
import { type Harness, OPINIONS, SCOPE, startHarness } from '../support/harness.js';

const OTHER: Scope = { platform: 'console', workspaceId: 'W2' };

/** `npm run export -- <args>` as a process, on the test Redis under `prefix`. */
function runExport(args: string[], prefix: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/app/export.ts', ...args], {
    cwd: join(import.meta.dirname, '../..'),
    env: { ...process.env, REDIS_URL: inject('redisUrl'), REDIS_PREFIX: prefix },
    encoding: 'utf8',
  });
}

describe('export in the Polis layout, read back by the evaluation loader', () => {
  let h: Harness | undefined;
  const dirs: string[] = [];
  const outDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'polis-export-'));
    dirs.push(dir);
    return join(dir, 'conversation');
  };
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('round-trips a rated round: comments, latest votes, authors and topic', async () => {
    h = await startHarness();
    const { round, statementMessageId } = await roundToPoll(h, SCOPE, {
      ...OPINIONS,
      ana: 'Yes, "a trial", then decide,\nwith a\r\nmulti-line note.',
    });
    await rate(h, SCOPE, statementMessageId, { ana: 'agree', ben: 'disagree', cai: 'unsure' });
    await rate(h, SCOPE, statementMessageId, { ben: 'agree' }, 200); // ben's latest counts
    await finish(h, SCOPE, round.id);
    const dir = outDir();
    const { files } = await writePolisExport(h.runtime, SCOPE, round.id, dir);
    expect(files.map((f) => f.name)).toEqual([
      'comments.csv',
      'votes.csv',
      'participants-votes.csv',
      'summary.csv',
    ]);

    const conversation = loadConversation(dir);
    expect(conversation.topic).toBe(round.question);
    const poll = await h.runtime.store.polls.poll(SCOPE, round.id, 1);
    const statement = conversation.comments.find((c) => c.text === poll?.statement);
    expect(statement?.authorId).toBe('0');
    // Opinions are comments by their members, with their text exactly (quotes, commas, newlines).
    expect(conversation.comments.map((c) => c.text)).toContain(
      'Yes, "a trial", then decide,\nwith a\r\nmulti-line note.',
    );
    expect(conversation.comments).toHaveLength(5);

    const participants = readFileSync(join(dir, 'participants-votes.csv'), 'utf8');
    const xidOf = new Map(
      participants
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(',') as [string, string])
        .map(([participant, xid]) => [participant, xid]),
    );
    expect(xidOf.get('0')).toBe(BOT_XID);
    const votes = Object.fromEntries(
      conversation.votes.map((v) => [xidOf.get(v.voterId), [v.commentId, v.vote]]),
    );
    expect(votes).toEqual({
      ana: [statement?.id, 1],
      ben: [statement?.id, 1],
      cai: [statement?.id, 0],
    });
    const header = participants.split('\n')[0];
    expect(header).toBe(
      `participant,xid,group-id,n-comments,n-votes,n-agree,n-disagree,${conversation.comments.map((c) => c.id).join(',')}`,
    );
    const comments = readFileSync(join(dir, 'comments.csv'), 'utf8');
    expect(comments.split('\n')[0]).toBe(
      'timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body',
    );
    expect(comments).toContain(`,${statement?.id},0,2,0,1,`);
    expect(readFileSync(join(dir, 'votes.csv'), 'utf8').split('\n')[0]).toBe(
      'timestamp,datetime,comment-id,voter-id,vote',
    );
  });

  it('exports a round nobody rated: opinions and statement, an empty votes file', async () => {
    h = await startHarness();
    const { round } = await roundToPoll(h, SCOPE);
    const dir = outDir();
    await writePolisExport(h.runtime, SCOPE, round.id, dir);
    const conversation = loadConversation(dir);
    expect(conversation.votes).toEqual([]);
    expect(conversation.comments).toHaveLength(Object.keys(OPINIONS).length + 1);
    expect(conversation.participants).toHaveLength(Object.keys(OPINIONS).length + 1);
    expect(readFileSync(join(dir, 'votes.csv'), 'utf8')).toBe(
      'timestamp,datetime,comment-id,voter-id,vote\n',
    );
  });

  it('keeps members of different anonymous rounds apart, and names none of them', async () => {
    h = await startHarness();
    const anonymous = { anonymous: true };
    const a = await roundToPoll(h, SCOPE, { ana: 'Ana here.', ben: 'Ben here.' }, 'A?', anonymous);
    await finish(h, SCOPE, a.round.id);
    const b = await roundToPoll(h, SCOPE, { cai: 'Cai here.', dee: 'Dee here.' }, 'B?', anonymous);
    await finish(h, SCOPE, b.round.id);
    const dir = outDir();
    const { files } = await writePolisExport(h.runtime, SCOPE, null, dir);
    // Each round numbers its authors member-1, member-2: four people, not two (plus the bot).
    expect(loadConversation(dir).participants).toHaveLength(5);
    const everything = files.map((f) => f.content).join('\n');
    for (const id of ['ana', 'ben', 'cai', 'dee'])
      expect(everything).not.toMatch(new RegExp(`\\b${id}\\b`));
  });

  it("exports a whole workspace and never another workspace's data", async () => {
    h = await startHarness();
    const a1 = await roundToPoll(h, SCOPE, { ana: 'Ana in A.', ben: 'Ben in A.' }, 'Question A1?');
    await rate(h, SCOPE, a1.statementMessageId, { ana: 'agree', ben: 'disagree' });
    await finish(h, SCOPE, a1.round.id);
    const a2 = await roundToPoll(h, SCOPE, { ana: 'Ana again.', cai: 'Cai in A.' }, 'Question A2?');
    await rate(h, SCOPE, a2.statementMessageId, { cai: 'agree' });
    const b = await roundToPoll(
      h,
      OTHER,
      { zed: 'Zed in B only.', yan: 'Yan in B.' },
      'Question B?',
    );
    await rate(h, OTHER, b.statementMessageId, { zed: 'agree', yan: 'agree' });
    await finish(h, OTHER, b.round.id);

    const dir = outDir();
    const { rounds, files } = await writePolisExport(h.runtime, SCOPE, null, dir);
    expect(rounds).toBe(2);
    const everything = files.map((f) => f.content).join('\n');
    for (const foreign of ['zed', 'yan', 'Zed in B only.', 'Question B?', b.round.id]) {
      expect(everything).not.toContain(foreign);
    }
    const conversation = loadConversation(dir);
    expect(conversation.votes).toHaveLength(3);
    // ana is one participant across both rounds.
    expect(conversation.participants).toHaveLength(4); // bot, ana, ben, cai
    expect(conversation.topic).toBe('2 rounds in console workspace W1');

    // A round id of another workspace is not found through this one.
    await expect(writePolisExport(h.runtime, SCOPE, b.round.id, outDir())).rejects.toThrow();
  });

  it('npm run export as a process: writes a round, leaves no key behind, and refuses an empty workspace', async () => {
    h = await startHarness();
    const { round, statementMessageId } = await roundToPoll(h, SCOPE, OPINIONS);
    await rate(h, SCOPE, statementMessageId, { ana: 'agree', ben: 'disagree' });
    const run = (workspace: string, out: string, prefix = h?.prefix ?? '') =>
      runExport(['--platform', 'console', '--workspace', workspace, '--out', out], prefix);

    const dir = outDir();
    const wrote = run(SCOPE.workspaceId, dir);
    expect(wrote.status).toBe(0);
    expect(wrote.stdout).toContain('(1 round)');
    expect(loadConversation(dir).votes).toHaveLength(2);
    expect(readFileSync(join(dir, 'summary.csv'), 'utf8')).toContain(round.question);
    // Its reader gone (`| head -0`): the files are written all the same, and it exits 0
    // without a stack trace.
    const piped = outDir();
    const closed = await runWithClosedOutput(
      'src/app/export.ts',
      ['--platform', 'console', '--workspace', SCOPE.workspaceId, '--out', piped],
      'stdout',
      { ...process.env, REDIS_URL: inject('redisUrl'), REDIS_PREFIX: h.prefix },
    );
    expect(closed.output).not.toMatch(/EPIPE|Error/);
    expect(closed.code).toBe(0);
    expect(loadConversation(piped).votes).toHaveLength(2);

    // On a prefix nothing uses yet: the export must leave it as empty as it found it
    // (no queue's meta key, nothing else), and say there is nothing to export.
    const unused = `${h.prefix}-unused`;
    const empty = outDir();
    const refused = run('W-nobody', empty, unused);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('console workspace W-nobody has no rounds to export yet');
    expect(existsSync(empty)).toBe(false);
    expect(await h.redis.keys(`${unused}*`)).toEqual([]);
  });

  it('npm run export names the flags left out, exit 2', () => {
    const refused = runExport(['--platform', 'slack'], 'unused');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^export: missing --workspace, --out\nusage: npm run export/);
    // Given empty (an unset shell variable) is left out too, not the schema's "too small".
    const empty = runExport(['--platform', 'slack', '--workspace', '', '--out', 'x'], 'unused');
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/^export: missing --workspace\n/);
    const noRound = runExport(
      ['--platform', 'slack', '--workspace', 'T1', '--round', '', '--out', 'x'],
      'unused',
    );
    expect(noRound.status).toBe(2);
    expect(noRound.stderr).toMatch(
      /^export: --round is empty: give a round id, or leave --round out/,
    );
    // Given twice: refused, since the one meant may be the first.
    const twice = runExport(
      ['--platform', 'slack', '--workspace', 'T1', '--workspace', 'T2', '--out', 'x'],
      'unused',
    );
    expect(twice.status).toBe(2);
    expect(twice.stderr).toContain('--workspace is given twice: give it once');
  });

  it('npm run export refuses an --out that is a file (or under one) as a bad flag, before reading Redis', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'polis-export-')), 'a-file');
    dirs.push(dirname(file));
    writeFileSync(file, 'not a folder');
    for (const out of [file, join(file, 'sub')]) {
      const refused = runExport(
        ['--platform', 'console', '--workspace', 'W1', '--out', out],
        'unused',
      );
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain(`export: --out: ${file} is a file, not a folder`);
      expect(refused.stderr).not.toContain('    at ');
    }
  });

  it('npm run export says which path it could not write, without a stack trace', async () => {
    h = await startHarness();
    await roundToPoll(h, SCOPE, OPINIONS);
    const dir = outDir();
    mkdirSync(join(dir, 'votes.csv'), { recursive: true }); // a folder where a file must go
    const failed = runExport(
      ['--platform', 'console', '--workspace', SCOPE.workspaceId, '--out', dir],
      h.prefix,
    );
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(
      new RegExp(`^export: could not write the export to ${dir}: EISDIR.*votes\\.csv'\n$`),
    );
  });

  it('npm run export refuses a --round that cannot be a round id, before reading Redis', () => {
    const refused = runExport(
      [
        '--platform',
        'console',
        '--workspace',
        'W1',
        '--round',
        'r1:poll:1',
        '--out',
        join(tmpdir(), 'never-written'),
      ],
      'unused',
    );
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('export: --round: ids may hold');
    expect(refused.stderr).not.toContain('    at ');
  });
});
