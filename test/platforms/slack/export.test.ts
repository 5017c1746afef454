import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Round } from '../../../src/domain/round.js';
import { loadConversation } from '../../../src/eval/polis.js';
import { storedRound } from '../../support/rounds.js';
import {
  CHANNEL,
  message,
  SCOPE,
  type Stack,
  startRound,
  startStack,
  TEAM,
  until,
} from './support.js';

const POLIS = ['comments.csv', 'votes.csv', 'participants-votes.csv', 'summary.csv'];
const FOLDER_NOTE =
  'save `comments.csv`, `votes.csv`, `participants-votes.csv`, `summary.csv` into one folder, ' +
  'and `npm run eval -- <folder>` (or any tool that reads Polis exports) reads it';

const WORKSPACE_EXPORT_REFUSAL =
  'Only the moderators set in the bot’s configuration (`SLACK_MODERATORS`) and the ' +
  'workspace’s owners may export the whole workspace: it holds the rounds of every channel, ' +
  'private ones included, which admins cannot read. ' +
  'To export one round, give its id, or run the command in its channel.';

const responses = (s: Stack) =>
  s.fake.calls.filter((c) => c.method === 'respond').map((c) => String(c.args.text));

/** A round stored under another Slack workspace on the same Redis (another installation). */
function foreignRound(): Round {
  return storedRound({
    id: 'rforeign01',
    scope: { platform: 'slack', workspaceId: 'T9999' },
    channelId: CHANNEL,
    question: 'A question of another workspace?',
    createdBy: 'UOTHER',
  });
}

describe('Slack: /consensus export', () => {
  let s: Stack;
  const dirs: string[] = [];
  /** Saves the uploaded files named `names` into a fresh folder, as a member would. */
  const saveUploads = (names: readonly string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'slack-export-'));
    dirs.push(dir);
    const uploaded = s.fake.uploadedFiles();
    for (const name of names) {
      const file = uploaded.filter((f) => f.filename === name).at(-1);
      if (!file) throw new Error(`${name} was not uploaded`);
      writeFileSync(join(dir, name), file.data);
    }
    return dir;
  };
  afterEach(async () => {
    await s?.stop();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('attaches the Polis files under their Polis names, and says a folder of them is what npm run eval reads', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U001', 'Yes, "a trial",\nthen decide.', questionTs));
    await s.event(message(s, 'U002', 'No: meetings would pile up.', questionTs));
    await s.settle();
    await s.command('U005', 'export');
    await s.settle();

    expect(s.fake.ok('files.getUploadURLExternal').map((c) => c.args.filename)).toEqual([
      `round-${round.id}.json`,
      ...POLIS,
    ]);
    const [json, csvs] = s.fake.ok('files.completeUploadExternal');
    expect(json?.args).toMatchObject({ channel_id: CHANNEL, thread_ts: questionTs });
    expect(csvs?.args).toMatchObject({
      channel_id: CHANNEL,
      thread_ts: questionTs,
      initial_comment: `The same round in the Polis export layout: ${FOLDER_NOTE}.`,
    });
    expect(responses(s).at(-1)).toBe(`The export of round \`${round.id}\` is in its thread.`);

    // Saved as downloaded, the four files are a conversation the evaluation loads.
    const conversation = loadConversation(saveUploads(POLIS));
    expect(conversation.topic).toBe(round.question);
    expect(conversation.comments.map((c) => c.text).sort()).toEqual([
      'No: meetings would pile up.',
      'Yes, "a trial",\nthen decide.',
    ]);
  });

  it('exports every round of the workspace to a moderator, in a direct message, and nothing of another workspace', async () => {
    s = await startStack({ moderators: 'UMOD' });
    await s.runtime.store.rounds.create(foreignRound());
    const first = await startRound(s, 'start Should we move the office?');
    await s.event(message(s, 'U001', 'Closer to the station, please.', first.questionTs));
    await s.settle();
    await s.command('UMOD', `cancel ${first.round.id}`);
    await s.settle();
    const second = await startRound(s, 'start Should lunch be at noon?');
    // startRound finds the first question posted; this round's is on the round.
    const secondTs = second.round.questionRef?.messageId ?? null;
    await s.event(message(s, 'U002', 'Noon suits the early starters.', secondTs));
    await s.settle();

    // A member is refused, and nothing is uploaded.
    await s.command('U001', 'export all');
    await s.settle();
    expect(responses(s).at(-1)).toBe(WORKSPACE_EXPORT_REFUSAL);
    expect(s.fake.ok('files.completeUploadExternal')).toEqual([]);

    await s.command('UMOD', 'export --workspace');
    await s.settle();
    expect(s.fake.ok('conversations.open').map((c) => c.args.users)).toEqual(['UMOD']);
    const [upload, ...more] = s.fake.ok('files.completeUploadExternal');
    expect(more).toEqual([]);
    // In the direct message, not in a channel or thread.
    expect(upload?.args.channel_id).toBe('DUMOD');
    expect(upload?.args.thread_ts).toBeUndefined();
    expect(upload?.args.initial_comment).toBe(
      `Export of every round of this workspace (2 rounds), as JSON and in the Polis export layout: ${FOLDER_NOTE}.`,
    );
    expect(s.fake.ok('files.getUploadURLExternal').map((c) => c.args.filename)).toEqual([
      `workspace-slack-${TEAM}.json`,
      ...POLIS,
    ]);
    expect(responses(s).at(-1)).toBe(
      'The export of every round of this workspace (2 rounds) is in your direct messages with me.',
    );

    const conversation = loadConversation(saveUploads(POLIS));
    expect(conversation.topic).toBe(`2 rounds in slack workspace ${TEAM}`);
    expect(conversation.comments.map((c) => c.text).sort()).toEqual([
      'Closer to the station, please.',
      'Noon suits the early starters.',
    ]);
    const everything = s.fake
      .uploadedFiles()
      .map((f) => f.data.toString('utf8'))
      .join('\n');
    expect(everything).toContain(first.round.id);
    expect(everything).toContain(second.round.id);
    for (const foreign of ['rforeign01', 'A question of another workspace?', 'UOTHER', 'T9999']) {
      expect(everything).not.toContain(foreign);
    }
  });

  it('refuses the whole workspace to admins, who moderate rounds but cannot read private channels; owners get it', async () => {
    s = await startStack({ moderators: 'UMOD' });
    s.fake.users.set('UADMIN', { is_admin: true });
    s.fake.users.set('UOWNER', { is_admin: true, is_owner: true });
    s.fake.users.set('UPRIMARY', { is_primary_owner: true });
    // A Slack Connect member who owns their own organisation's workspace, not this one.
    s.fake.users.set('UGUEST', { is_owner: true, is_admin: true, team_id: 'TOTHERORG' });
    const { round } = await startRound(s);

    await s.command('UGUEST', 'export all');
    await s.settle();
    expect(responses(s).at(-1)).toBe(WORKSPACE_EXPORT_REFUSAL);

    await s.command('UADMIN', 'export all');
    await s.settle();
    expect(responses(s).at(-1)).toBe(WORKSPACE_EXPORT_REFUSAL);
    expect(s.fake.ok('conversations.open')).toEqual([]);
    expect(s.fake.ok('files.completeUploadExternal')).toEqual([]);
    // Still a moderator of every round.
    await s.command('UADMIN', `extend 30 ${round.id}`);
    await s.settle();
    expect(responses(s).at(-1)).toMatch(new RegExp(`Round \`${round.id}\` stays open until`));

    for (const owner of ['UOWNER', 'UPRIMARY']) {
      await s.command(owner, 'export all');
      await s.settle();
      expect(responses(s).at(-1)).toBe(
        'The export of every round of this workspace (1 round) is in your direct messages with me.',
      );
    }
    expect(s.fake.ok('conversations.open').map((c) => c.args.users)).toEqual([
      'UOWNER',
      'UPRIMARY',
    ]);
  });

  it('org-wide installation: the organisation’s own flags decide; its owners export all, workspace admins and owners moderate', async () => {
    // users.info names each member's workspace (T0001) as team_id, never the organisation.
    s = await startStack({ organisation: 'E0001' });
    s.fake.users.set('UORGADMIN', { enterprise_user: { is_admin: true } });
    s.fake.users.set('UORGOWNER', { enterprise_user: { is_owner: true } });
    s.fake.users.set('UWSOWNER', { is_owner: true, is_admin: true });
    s.fake.users.set('UWSADMIN', { is_admin: true });
    // Another organisation's admin, in a channel shared with it.
    s.fake.users.set('UFOREIGN', {
      is_admin: true,
      team_id: 'T0EXT',
      enterprise_user: { enterprise_id: 'E0002', is_admin: true, is_owner: true },
    });
    const { round } = await startRound(s, 'start Should we move offices?', 'USTARTER');
    for (const admin of ['UORGADMIN', 'UWSOWNER', 'UWSADMIN']) {
      await s.command(admin, `extend 30 ${round.id}`);
      await s.settle();
      expect(responses(s).at(-1)).toMatch(new RegExp(`Round \`${round.id}\` stays open until`));
    }
    for (const member of ['UFOREIGN', 'U001']) {
      await s.command(member, `extend 30 ${round.id}`);
      await s.settle();
      expect(responses(s).at(-1)).toMatch(/^Only a moderator or the member who started/);
    }
    for (const notOwner of ['UWSOWNER', 'UORGADMIN', 'UFOREIGN']) {
      await s.command(notOwner, 'export all');
      await s.settle();
      expect(responses(s).at(-1)).toBe(WORKSPACE_EXPORT_REFUSAL);
    }
    await s.command('UORGOWNER', 'export all');
    await s.settle();
    expect(responses(s).at(-1)).toMatch(/^The export of every round .* is in your direct messages/);
    expect(s.fake.ok('conversations.open').map((c) => c.args.users)).toEqual(['UORGOWNER']);
  });

  it('tells the moderator what the admin must do when the app lacks im:write', async () => {
    s = await startStack({ moderators: 'UMOD' });
    await startRound(s);
    s.fake.fail('conversations.open', 'missing_scope');
    await s.command('UMOD', 'export all');
    await s.settle();
    expect(responses(s).at(-1)).toBe(
      'I could not send you a direct message: the app lacks the `im:write` scope. ' +
        'An admin can add it (manifest.json has it) and reinstall the app.',
    );
    expect(s.fake.ok('files.completeUploadExternal')).toEqual([]);
  });

  it('says so when the workspace has no rounds yet', async () => {
    s = await startStack({ moderators: 'UMOD' });
    await s.runtime.store.rounds.create(foreignRound());
    await s.command('UMOD', 'export all');
    await s.settle();
    await until(async () => responses(s).length > 0 || null);
    expect(responses(s)).toEqual(['This workspace has no rounds to export yet.']);
    expect(s.fake.ok('conversations.open')).toEqual([]);
    expect(await s.runtime.store.rounds.recent(SCOPE, 10)).toEqual([]);
  });
});
