import { EventEmitter, once } from 'node:events';
import { Events } from 'discord.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../src/app/config.js';
import { createDiscord, DiscordStartError, untilReady } from '../../../src/app/discord.js';
import { type DiscordConfig, loadDiscordConfig } from '../../../src/app/discord-config.js';
import type { DiscordService } from '../../../src/platforms/discord/bot.js';
import { FakeDiscord, guildOnShard } from '../../fakes/discord.js';
import { RecordingLog } from '../../support/harness.js';
import {
  APPLICATION_ID,
  ana,
  ben,
  cai,
  moderator,
  opinions,
  ratings,
  settle,
  startRound,
  startWorld,
  TOKEN,
  until,
  type World,
} from './support.js';

/** Discord recommends two shards and refuses one; the guild is on shard 1. */
const twoShards = () => ({ shards: 2, requiredShards: 2, guildId: guildOnShard(1, 2) });

const shardsOf = (fake: FakeDiscord) => fake.identifies.map((i) => i.shard.join('/'));

function discordConfig(env: Record<string, string>): DiscordConfig {
  const config = loadDiscordConfig({
    DISCORD_TOKEN: TOKEN,
    DISCORD_APPLICATION_ID: APPLICATION_ID,
    ...env,
  });
  if (!config) throw new Error('the test settings leave Discord off');
  return config;
}

describe('Discord sharding: DISCORD_SHARDS and DISCORD_SHARD_IDS', () => {
  const fail = (env: Record<string, string>) => {
    try {
      discordConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('runs every shard Discord recommends by default; a number runs that many; ids pick some', () => {
    expect(discordConfig({}).shards).toBe('auto');
    expect(discordConfig({ DISCORD_SHARDS: '', DISCORD_SHARD_IDS: '' }).shards).toBe('auto');
    expect(discordConfig({ DISCORD_SHARDS: 'Auto' }).shards).toBe('auto');
    expect(discordConfig({ DISCORD_SHARDS: '3' }).shards).toEqual({ count: 3, ids: [0, 1, 2] });
    expect(discordConfig({ DISCORD_SHARDS: ' 4 ', DISCORD_SHARD_IDS: '3, 1' }).shards).toEqual({
      count: 4,
      ids: [3, 1],
    });
  });

  it('names the variable of a bad value', () => {
    for (const bad of ['0', '-1', '1.5', 'two', '2 shards', '99999999999999999999']) {
      expect(fail({ DISCORD_SHARDS: bad })).toMatch(
        /DISCORD_SHARDS: must be auto or a whole number of shards, 1 or more/,
      );
    }
    for (const shards of [{}, { DISCORD_SHARDS: 'auto' }] as Record<string, string>[]) {
      expect(fail({ ...shards, DISCORD_SHARD_IDS: '1' })).toMatch(
        /DISCORD_SHARD_IDS: needs DISCORD_SHARDS set to the number of shards in all processes/,
      );
    }
    expect(fail({ DISCORD_SHARDS: '2', DISCORD_SHARD_IDS: '0,2' })).toMatch(
      /DISCORD_SHARD_IDS: shard 2 does not exist: with DISCORD_SHARDS=2 the ids are 0 to 1/,
    );
    expect(fail({ DISCORD_SHARDS: '2', DISCORD_SHARD_IDS: '1,1' })).toMatch(
      /DISCORD_SHARD_IDS: lists shard 1 twice/,
    );
    for (const bad of ['0;1', '-1', '1,', 'one']) {
      expect(fail({ DISCORD_SHARDS: '2', DISCORD_SHARD_IDS: bad })).toMatch(
        /DISCORD_SHARD_IDS: must be shard ids, whole numbers separated by commas/,
      );
    }
  });
});

describe('Discord sharding: start waits for shard after shard', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A stand-in for the client: untilReady only listens to its shard and client events. */
  function watch(timeoutMs: number) {
    const client = new EventEmitter();
    const waiting = untilReady(client, timeoutMs);
    const outcome: { value: string } = { value: 'pending' };
    waiting.ready.then(
      () => {
        outcome.value = 'ready';
      },
      (error: unknown) => {
        outcome.value = error instanceof DiscordStartError ? error.message : 'other error';
      },
    );
    return { client, outcome };
  }

  it('gives each shard the timeout, however long all of them take together', async () => {
    vi.useFakeTimers();
    const { client, outcome } = watch(1_000);
    for (const shardId of [0, 1, 2]) {
      await vi.advanceTimersByTimeAsync(900);
      client.emit(Events.ShardReady, shardId);
    }
    await vi.advanceTimersByTimeAsync(900);
    expect(outcome.value).toBe('pending');
    client.emit(Events.ClientReady, client);
    await vi.advanceTimersByTimeAsync(0);
    expect(outcome.value).toBe('ready');
    expect(client.listenerCount(Events.ShardReady) + client.listenerCount(Events.ClientReady)).toBe(
      0,
    );
  });

  it('gives up when the next shard does not become ready within the timeout', async () => {
    vi.useFakeTimers();
    const { client, outcome } = watch(1_000);
    await vi.advanceTimersByTimeAsync(900);
    client.emit(Events.ShardReady, 0);
    await vi.advanceTimersByTimeAsync(999);
    expect(outcome.value).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome.value).toBe(
      'Discord did not become ready in time: no shard became ready within 1000 ms.',
    );
    expect(client.listenerCount(Events.ShardReady)).toBe(0);
  });
});

describe('Discord sharding: against a Discord that requires two shards', () => {
  let world: World | null = null;
  afterEach(async () => {
    await world?.stop();
    world = null;
  });

  it('with DISCORD_SHARDS=auto opens both shards and runs a round in a guild on shard 1', async () => {
    const w = await startWorld({ fake: twoShards(), discordEnv: { DISCORD_SHARDS: 'auto' } });
    world = w;
    const { fake } = w;
    expect(shardsOf(fake).sort()).toEqual(['0/2', '1/2']);
    expect(w.discord.client.guilds.cache.get(fake.guildId)?.shardId).toBe(1);

    // A slash command, thread replies and a reaction, all on shard 1's connection.
    const { round, threadId } = await startRound(w);
    fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    fake.say(threadId, ben, 'Five days; customers expect us.');
    await until(async () => (await opinions(w, round.id)).length === 2 || null);
    await fake.answered(fake.command('close', {}, moderator));
    const [poll] = await fake.waitForRequest(
      'PUT',
      new RegExp(`^/channels/${threadId}/messages/\\d+/reactions/`),
      3,
    );
    const statementId = poll?.path.split('/')[4] ?? '';
    await until(
      async () =>
        (await w.runtime.store.rounds.require(w.scope, round.id)).phase === 'polling' || null,
    );
    fake.react(threadId, statementId, ana, '👍');
    await settle(w);
    expect(await ratings(w, round.id)).toEqual({ [ana.id]: 'agree' });
  });

  it('is not ready while one of its shards reconnects', async () => {
    const current = await startWorld({ fake: twoShards() });
    world = current;
    const resumed = once(current.discord.client, Events.ShardResume);
    let wentUnready = false;
    // Shard 1 drops; shard 0 stays up the whole time.
    await current.fake.dropConnection({
      whileGone: async () => {
        wentUnready = await until(() => !current.discord.ready(), 5_000).then(
          () => true,
          () => false,
        );
      },
    });
    expect((await resumed)[0]).toBe(1);
    expect(wentUnready).toBe(true);
    expect(current.discord.ready()).toBe(true);
  });

  it('catches up on a guild on shard 1 after a restart', async () => {
    const w = await startWorld({ fake: twoShards() });
    world = w;
    const { fake } = w;
    const { round, threadId } = await startRound(w);
    fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    await settle(w);
    await w.restart(() => {
      fake.say(threadId, cai, 'Try it in one team first.');
    });
    await settle(w);
    expect((await opinions(w, round.id)).map((o) => o.participantId).sort()).toEqual(
      [ana.id, cai.id].sort(),
    );
    expect(shardsOf(fake).sort()).toEqual(['0/2', '0/2', '1/2', '1/2']);
  });

  it('with DISCORD_SHARD_IDS, each process connects only its shards, and the guild goes to its own', async () => {
    const split = (ids: string) => ({ DISCORD_SHARDS: '2', DISCORD_SHARD_IDS: ids });
    const w = await startWorld({ fake: twoShards(), discordEnv: split('1') });
    world = w;
    const { fake } = w;
    expect(shardsOf(fake)).toEqual(['1/2']);

    // A second process runs shard 0; its service must never be called for the guild.
    const called: string[] = [];
    const service = new Proxy(
      {},
      {
        get: (_target, name) => async () => {
          called.push(String(name));
          return [];
        },
      },
    ) as DiscordService;
    const other = createDiscord(discordConfig({ DISCORD_API_URL: fake.apiUrl, ...split('0') }), {
      log: new RecordingLog(),
      onFatal: () => {},
    });
    await other.start(service);
    try {
      expect(shardsOf(fake)).toEqual(['1/2', '0/2']);
      expect(other.client.guilds.cache.size).toBe(0);
      const { round, threadId } = await startRound(w);
      fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
      await settle(w);
      expect(await opinions(w, round.id)).toHaveLength(1);
      await other.idle();
      expect(called).toEqual([]);
    } finally {
      await other.stop();
    }
  });

  it('says sharding is required, naming DISCORD_SHARDS, when Discord refuses too few at start', async () => {
    const fake = await FakeDiscord.start({
      token: TOKEN,
      applicationId: APPLICATION_ID,
      ...twoShards(),
    });
    try {
      const discord = createDiscord(
        discordConfig({ DISCORD_API_URL: fake.apiUrl, DISCORD_SHARDS: '1' }),
        { log: new RecordingLog(), readyTimeoutMs: 5_000 },
      );
      const error = await discord.start({} as DiscordService).catch((e: unknown) => e);
      expect(shardsOf(fake)).toEqual(['0/1']);
      expect(error).toBeInstanceOf(DiscordStartError);
      expect((error as Error).message).toMatch(
        /^Discord requires more shards: .* Set DISCORD_SHARDS=auto \(the default\)/,
      );
    } finally {
      await fake.close();
    }
  });

  it('says sharding is required, naming DISCORD_SHARDS, on a 4011 close after start', async () => {
    const fatal: string[] = [];
    const w = await startWorld({ fake: twoShards(), onFatal: (message) => fatal.push(message) });
    world = w;
    const { fake } = w;
    fake.closeGateway(4011, 'Sharding required.');
    await fake.waitFor(() => fatal.length > 0, 'fatal close');
    expect(fatal).toEqual([
      expect.stringMatching(/^Discord requires more shards: .*DISCORD_SHARDS/),
    ]);
    expect(w.discord.ready()).toBe(false);
    const line = w.log.lines.find((l) => l.message === fatal[0]);
    expect(line).toMatchObject({ level: 'error', fields: { code: 4011, shardId: 1 } });
  });
});
