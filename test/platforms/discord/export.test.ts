import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Round } from '../../../src/domain/round.js';
import { loadConversation } from '../../../src/eval/polis.js';
import { storedRound } from '../../support/rounds.js';
import {
  contentOf,
  MOD,
  member,
  opinions,
  PERMS,
  settle,
  snowflake,
  startRound,
  startWorld,
  until,
  type World,
  type WorldOptions,
} from './support.js';

const EPHEMERAL = 64;
const POLIS = ['comments.csv', 'votes.csv', 'participants-votes.csv', 'summary.csv'];
const FOLDER_NOTE =
  'save `comments.csv`, `votes.csv`, `participants-votes.csv`, `summary.csv` into one folder, ' +
  'and `npm run eval -- <folder>` (or any tool that reads Polis exports) reads it';

/**
 * The server's roles: Manage Server, Manage Messages server-wide (a helper who may not
 * see every channel), and one the operator may name in DISCORD_MODERATOR_ROLES.
 */
const ROLES = {
  managers: { id: snowflake(), name: 'Managers', permissions: PERMS.manageGuild },
  helpers: { id: snowflake(), name: 'Helpers', permissions: PERMS.manageMessages },
  facilitators: { id: snowflake(), name: 'Facilitators', permissions: PERMS.member },
};
const withRoles = (options: WorldOptions = {}) =>
  startWorld({ ...options, fake: { ...options.fake, roles: Object.values(ROLES) } });

/** Manage Server through a role, so in every channel (its permissions here say so too). */
const serverManager = {
  user: MOD,
  roles: [ROLES.managers.id],
  permissions: PERMS.manageGuild,
};

const SERVER_EXPORT_REFUSAL =
  'Only members with the Manage Server permission may export the whole server: it holds the rounds of every channel, private ones included. ' +
  'Manage Messages, or a permission given in one channel, is not enough. ' +
  'To export one round, give its id, or run the command in its channel.';

/** A round of another server, stored on the same Redis. */
function foreignRound(): Round {
  return storedRound({
    id: 'rforeign01',
    scope: { platform: 'discord', workspaceId: '999999999999999999' },
    channelId: '888888888888888888',
    question: 'A question of another server?',
    createdBy: '777777777777777777',
  });
}

describe('Discord: /consensus export', () => {
  let world: World;
  const dirs: string[] = [];
  const ana = member('ana');
  const ben = member('ben');

  /** The attachments of an answer, saved into a fresh folder as a member would. */
  const save = (files: readonly { name: string; text: string }[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'discord-export-'));
    dirs.push(dir);
    for (const f of files) writeFileSync(join(dir, f.name), f.text);
    return dir;
  };
  afterEach(async () => {
    await world.stop();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function roundWithOpinions(question: string, texts: [string, string]) {
    const { round, threadId } = await startRound(world, question);
    world.fake.say(threadId, ana, texts[0]);
    world.fake.say(threadId, ben, texts[1]);
    await settle(world);
    await until(async () => (await opinions(world, round.id)).length === 2 || null);
    return round;
  }

  it('attaches the Polis files under their Polis names, and says a folder of them is what npm run eval reads', async () => {
    world = await startWorld();
    const round = await roundWithOpinions('Which colour for the logo?', [
      'Blue, "calm", and readable.',
      'Green,\nlike our products.',
    ]);
    const id = world.fake.command('export', {}, { user: ana });
    const answer = await world.fake.answered(id);
    expect(Number(answer.original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    expect(answer.original?.content).toBe(
      `Everything about round \`${round.id}\`, as JSON, and in the Polis export layout: ${FOLDER_NOTE}.`,
    );
    const files = answer.original?.files as { name: string; text: string }[];
    expect(files.map((f) => f.name)).toEqual([`round-${round.id}.json`, ...POLIS]);
    const conversation = loadConversation(save(files.slice(1)));
    expect(conversation.topic).toBe(round.question);
    expect(conversation.comments.map((c) => c.text).sort()).toEqual([
      'Blue, "calm", and readable.',
      'Green,\nlike our products.',
    ]);
  });

  it('exports every round of the server to a server manager only, privately, and nothing of another server', async () => {
    world = await withRoles();
    await world.runtime.store.rounds.create(foreignRound());
    const first = await roundWithOpinions('Which colour for the logo?', ['Blue.', 'Green.']);
    const second = await roundWithOpinions('Lunch at noon?', ['Yes, noon.', 'Later, at one.']);

    const refused = world.fake.command('export', { workspace: true }, { user: ana });
    await world.fake.answered(refused);
    expect(contentOf(world, refused)).toBe(SERVER_EXPORT_REFUSAL);
    expect(world.fake.reply(refused).original?.files ?? []).toEqual([]);

    const id = world.fake.command('export', { workspace: true }, serverManager);
    const answer = await world.fake.answered(id);
    expect(Number(answer.original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    expect(answer.original?.content).toBe(
      `Every round of this server (2 rounds), as JSON, and in the Polis export layout: ${FOLDER_NOTE}.`,
    );
    const files = answer.original?.files as { name: string; text: string }[];
    expect(files.map((f) => f.name)).toEqual([
      `workspace-discord-${world.fake.guildId}.json`,
      ...POLIS,
    ]);
    const everything = files.map((f) => f.text).join('\n');
    expect(everything).toContain(first.id);
    expect(everything).toContain(second.id);
    for (const foreign of ['rforeign01', 'A question of another server?', '999999999999999999']) {
      expect(everything).not.toContain(foreign);
    }
    const conversation = loadConversation(save(files.slice(1)));
    expect(conversation.topic).toBe(`2 rounds in discord workspace ${world.fake.guildId}`);
    expect(conversation.comments.map((c) => c.text).sort()).toEqual([
      'Blue.',
      'Green.',
      'Later, at one.',
      'Yes, noon.',
    ]);
  });

  it('refuses a round and workspace:True together, rather than send the whole server for one round', async () => {
    world = await withRoles();
    const round = await roundWithOpinions('Which colour for the logo?', ['Blue.', 'Green.']);
    const both = world.fake.command('export', { round: round.id, workspace: true }, serverManager);
    const answer = await world.fake.answered(both);
    expect(Number(answer.original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    expect(answer.original?.content).toBe(
      'Give `round` to export one round, or `workspace:True` for every round of the server, not both.',
    );
    expect(answer.original?.files ?? []).toEqual([]);
    // workspace:False is the default: the round named.
    const one = world.fake.command('export', { round: round.id, workspace: false }, serverManager);
    const files = (await world.fake.answered(one)).original?.files as { name: string }[];
    expect(files.map((f) => f.name)).toEqual([`round-${round.id}.json`, ...POLIS]);
  });

  it('refuses the whole server to moderators of a channel and to Manage Messages helpers, who may still moderate', async () => {
    world = await withRoles();
    const round = await roundWithOpinions('Which colour for the logo?', ['Blue.', 'Green.']);
    // `memberPermissions` is the channel's: Manage Messages from this channel's overwrite.
    const channelModerator = { user: member('cara'), permissions: PERMS.manageMessages };
    // Manage Messages server-wide, from a role; Discord computes it into the channel's too.
    const helper = {
      user: member('dan'),
      roles: [ROLES.helpers.id],
      permissions: PERMS.manageMessages,
    };
    for (const as of [channelModerator, helper]) {
      const id = world.fake.command('export', { workspace: true }, as);
      await world.fake.answered(id);
      expect(contentOf(world, id)).toBe(SERVER_EXPORT_REFUSAL);
      expect(world.fake.reply(id).original?.files ?? []).toEqual([]);
    }
    // Both still moderate the rounds of the channel, and export one of them.
    const one = world.fake.command('export', {}, channelModerator);
    await world.fake.answered(one);
    expect(world.fake.reply(one).original?.files).toHaveLength(5);
    const extended = world.fake.command('extend', { minutes: 30 }, helper);
    await world.fake.answered(extended);
    expect(contentOf(world, extended)).toMatch(
      new RegExp(`^Round \`${round.id}\` stays open until`),
    );
  });

  it('exports the whole server to a member of a DISCORD_MODERATOR_ROLES role, and names the role in a refusal', async () => {
    world = await withRoles({ moderatorRoles: [ROLES.facilitators.id] });
    await roundWithOpinions('Which colour for the logo?', ['Blue.', 'Green.']);
    const refused = world.fake.command(
      'export',
      { workspace: true },
      { user: member('cara'), permissions: PERMS.manageMessages },
    );
    await world.fake.answered(refused);
    expect(contentOf(world, refused)).toBe(
      'Only members with the Manage Server permission or one of the bot’s moderator roles (named by id in DISCORD_MODERATOR_ROLES) may export the whole server: ' +
        'it holds the rounds of every channel, private ones included. ' +
        'Manage Messages, or a permission given in one channel, is not enough. ' +
        'To export one round, give its id, or run the command in its channel.',
    );
    const id = world.fake.command(
      'export',
      { workspace: true },
      { user: member('fay'), roles: [ROLES.facilitators.id] },
    );
    const answer = await world.fake.answered(id);
    expect(answer.original?.content).toBe(
      `Every round of this server (1 round), as JSON, and in the Polis export layout: ${FOLDER_NOTE}.`,
    );
    expect(answer.original?.files).toHaveLength(5);
  });

  it('does not export the whole server for a role configured by name, which anyone with Manage Roles could copy', async () => {
    world = await withRoles({ moderatorRoles: ['Facilitators'] });
    await roundWithOpinions('Which colour for the logo?', ['Blue.', 'Green.']);
    const id = world.fake.command(
      'export',
      { workspace: true },
      { user: member('fay'), roles: [ROLES.facilitators.id] },
    );
    await world.fake.answered(id);
    expect(contentOf(world, id)).toMatch(/^Only members with the Manage Server permission/);
  });

  it('names the operators’ command when Discord refuses files the bot thought would fit', async () => {
    // The bot's estimate allows the files; Discord, smaller here, answers 413.
    world = await withRoles({ maxRequestBytes: 1_000_000, fake: { maxRequestBytes: 12_000 } });
    const long = (word: string) => Array.from({ length: 400 }, (_, i) => `${word}${i}`).join(' ');
    await roundWithOpinions('Which colour for the logo?', [long('blue'), long('green')]);
    const id = world.fake.command('export', { workspace: true }, serverManager);
    const answer = await world.fake.answered(id);
    expect(answer.original?.files ?? []).toEqual([]);
    expect(String(answer.original?.content)).toMatch(
      /^Discord refused this export’s files \(\d+ KB together\) as too large for one reply\. The bot’s operator can write the same files with `npm run export -- --platform discord --workspace (\S+) --out <folder>` \(from the Docker image: `node dist\/app\/export\.js --platform discord --workspace \1 --out <folder>`\)\.$/,
    );
  });

  it('names the operators’ command instead when the files together are more than Discord takes in one request', async () => {
    // Discord's cap is 25 MB; the fake and the bot share a small one so a few opinions pass it.
    const cap = 12_000;
    world = await withRoles({ maxRequestBytes: cap, fake: { maxRequestBytes: cap } });
    // About 15 KB of files, none larger than 9 KB.
    const long = (word: string) => Array.from({ length: 400 }, (_, i) => `${word}${i}`).join(' ');
    await roundWithOpinions('Which colour for the logo?', [long('blue'), long('green')]);
    const id = world.fake.command('export', { workspace: true }, serverManager);
    const answer = await world.fake.answered(id);
    expect(answer.original?.files ?? []).toEqual([]);
    expect(String(answer.original?.content)).toMatch(
      /^This export’s files come to \d+ KB together, more than Discord takes in one reply \(12 KB\)\. /,
    );
    expect(String(answer.original?.content)).toContain(
      `\`npm run export -- --platform discord --workspace ${world.fake.guildId} --out <folder>\` (from the Docker image: \`node dist/app/export.js --platform discord --workspace ${world.fake.guildId} --out <folder>\`).`,
    );
    // Nothing went out that Discord would refuse, which would leave the member with "thinking…".
    expect(world.fake.requests.filter((r) => r.status === 413)).toEqual([]);
  });

  it('names the operators’ command instead when a file is larger than Discord attaches', async () => {
    world = await withRoles();
    await roundWithOpinions('Which colour for the logo?', ['Blue.', 'Green.']);
    const id = world.fake.command(
      'export',
      { workspace: true },
      { ...serverManager, attachmentSizeLimit: 200 },
    );
    const answer = await world.fake.answered(id);
    expect(answer.original?.files ?? []).toEqual([]);
    expect(String(answer.original?.content)).toMatch(
      /^This export has a file of \d+ KB, more than Discord attaches here \(1 KB\)\. /,
    );
    expect(String(answer.original?.content)).toContain(
      `\`npm run export -- --platform discord --workspace ${world.fake.guildId} --out <folder>\` (from the Docker image: \`node dist/app/export.js --platform discord --workspace ${world.fake.guildId} --out <folder>\`).`,
    );
  });
});
