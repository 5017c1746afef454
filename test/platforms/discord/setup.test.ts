import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Events } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/app/config.js';
import { createDiscord, DiscordStartError } from '../../../src/app/discord.js';
import { registerCommands, registrationProblem } from '../../../src/app/discord-commands.js';
import { loadDiscordConfig } from '../../../src/app/discord-config.js';
import { inviteUrl } from '../../../src/platforms/discord/client.js';
import { consensusCommand } from '../../../src/platforms/discord/commands.js';
import { FakeDiscord } from '../../fakes/discord.js';
import { RecordingLog } from '../../support/harness.js';
import { APPLICATION_ID, startWorld, TOKEN, until } from './support.js';

/** The child printed an error before connecting: stop waiting, the assertions say why. */
const exitedEarly = (stderr: string) => /Error/.test(stderr);

const GUILD = '1111111111111111111';

/** `npm run discord:commands` as an admin runs it, against the fake, with only these DISCORD_* settings. */
async function runRegistration(
  fake: FakeDiscord,
  settings: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number | null; output: string }> {
  const script = fileURLToPath(new URL('../../../src/app/discord-commands.ts', import.meta.url));
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('DISCORD_')),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    env: { ...env, DISCORD_API_URL: fake.apiUrl, ...settings },
    stdio: 'pipe',
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}

describe('Discord setup: configuration', () => {
  it('is off unless both the token and the application id are set; empty strings are unset', () => {
    expect(loadDiscordConfig({})).toBeNull();
    expect(
      loadDiscordConfig({ DISCORD_TOKEN: '', DISCORD_APPLICATION_ID: '', DISCORD_GUILD_ID: '' }),
    ).toBeNull();
    expect(
      loadDiscordConfig({
        DISCORD_TOKEN: ` ${TOKEN} `,
        DISCORD_APPLICATION_ID: APPLICATION_ID,
        DISCORD_API_URL: 'http://127.0.0.1:9999/api/',
        DISCORD_GUILD_ID: '',
        DISCORD_MODERATOR_ROLES: 'Facilitators, 1222222222222222222 ,',
      }),
    ).toEqual({
      token: TOKEN,
      applicationId: APPLICATION_ID,
      apiUrl: 'http://127.0.0.1:9999/api',
      guildId: undefined,
      moderatorRoles: ['Facilitators', '1222222222222222222'],
      shards: 'auto',
    });
  });

  it('names the variable that is wrong or missing, and never echoes the token', () => {
    const fail = (env: Record<string, string>) => {
      try {
        loadDiscordConfig(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    const missing = fail({ DISCORD_TOKEN: TOKEN });
    expect(missing).toMatch(/DISCORD_APPLICATION_ID: is required/);
    expect(missing).not.toContain(TOKEN);
    expect(fail({ DISCORD_APPLICATION_ID: APPLICATION_ID })).toMatch(/DISCORD_TOKEN: is required/);
    const prefixed = fail({
      DISCORD_TOKEN: `Bot ${TOKEN}`,
      DISCORD_APPLICATION_ID: APPLICATION_ID,
    });
    expect(prefixed).toMatch(/DISCORD_TOKEN: give the token without the "Bot " prefix/);
    expect(prefixed).not.toContain(TOKEN);
    expect(
      fail({ DISCORD_TOKEN: TOKEN, DISCORD_APPLICATION_ID: APPLICATION_ID, DISCORD_GUILD_ID: 'x' }),
    ).toMatch(/DISCORD_GUILD_ID: must be a Discord id/);
    expect(
      fail({ DISCORD_TOKEN: TOKEN, DISCORD_APPLICATION_ID: APPLICATION_ID, DISCORD_API_URL: 'x' }),
    ).toMatch(/DISCORD_API_URL/);
    // discord.js adds the version: with it in the setting every call would be a 404.
    expect(
      fail({
        DISCORD_TOKEN: TOKEN,
        DISCORD_APPLICATION_ID: APPLICATION_ID,
        DISCORD_API_URL: 'https://discord.com/api/v10/',
      }),
    ).toMatch(/DISCORD_API_URL: give the REST base without the API version/);
  });

  it('builds the invite URL with both scopes and exactly the permissions a round needs', () => {
    const url = new URL(inviteUrl(APPLICATION_ID));
    expect(url.origin + url.pathname).toBe('https://discord.com/oauth2/authorize');
    expect(url.searchParams.get('client_id')).toBe(APPLICATION_ID);
    expect(url.searchParams.get('scope')).toBe('bot applications.commands');
    // View Channel, Send Messages, Send in Threads, Create Public Threads, Embed Links,
    // Attach Files, Add Reactions, Read Message History.
    const expected = [10, 11, 38, 35, 14, 15, 6, 16].reduce((sum, bit) => sum + 2 ** bit, 0);
    expect(url.searchParams.get('permissions')).toBe(String(expected));
  });
});

describe('Discord setup: the /consensus command', () => {
  it('has every subcommand, typed options, ranges and choices, and is for servers only', () => {
    const command = consensusCommand();
    expect(command.name).toBe('consensus');
    expect(command.contexts).toEqual([0]);
    const subs = command.options ?? [];
    expect(subs.map((s) => s.name)).toEqual([
      'start',
      'close',
      'status',
      'critique',
      'finish',
      'cancel',
      'results',
      'export',
      'extend',
      'help',
    ]);
    expect(subs.every((s) => s.type === 1)).toBe(true);
    const extend = subs.find((s) => s.name === 'extend') as unknown as {
      options: { name: string; type: number; required?: boolean; min_value?: number }[];
    };
    expect(extend.options.map((o) => [o.name, o.type, o.required ?? false])).toEqual([
      ['minutes', 4, true],
      ['round', 3, false],
    ]);
    const exportSub = subs.find((s) => s.name === 'export') as unknown as {
      options: { name: string; type: number; description: string }[];
    };
    // A round, or (a boolean) every round of the server.
    expect(exportSub.options.map((o) => [o.name, o.type])).toEqual([
      ['round', 3],
      ['workspace', 5],
    ]);
    // Who may, as the handler decides it: not every moderator (README: server managers).
    expect(exportSub.options[1]?.description).toBe(
      'Every round of this server instead of one (server managers only)',
    );
    const start = subs[0] as unknown as {
      options: {
        name: string;
        type: number;
        required?: boolean;
        max_length?: number;
        min_value?: number;
        max_value?: number;
        choices?: { value: string }[];
      }[];
    };
    const byName = Object.fromEntries(start.options.map((o) => [o.name, o]));
    expect(byName.question).toMatchObject({ type: 3, required: true, max_length: 500 });
    expect(byName.candidates).toMatchObject({ type: 4, min_value: 1, max_value: 16 });
    expect(byName.minutes).toMatchObject({ type: 4, min_value: 1, max_value: 10_080 });
    expect(byName.welfare?.choices?.map((c) => c.value)).toEqual([
      'utilitarian',
      'egalitarian',
      'nash',
      'schulze',
      'bridging',
    ]);
    expect(byName.scale?.choices?.map((c) => c.value)).toEqual(['approval3', 'likert7']);
    const close = subs[1] as unknown as { options: { name: string; required?: boolean }[] };
    expect(close.options).toEqual([expect.objectContaining({ name: 'round', type: 3 })]);
  });

  it('without settings, npm run discord:commands points to the README section that exists', async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('DISCORD_')),
    );
    const script = fileURLToPath(new URL('../../../src/app/discord-commands.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { env, stdio: 'pipe' });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('see "Connect to Discord" in the README');
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(readme).toMatch(/^## Connect to Discord$/m);
  });

  describe('registration (npm run discord:commands)', () => {
    let fake: FakeDiscord;
    afterEach(async () => {
      await fake.close();
    });

    it('registers for one guild when DISCORD_GUILD_ID is set, globally otherwise', async () => {
      fake = await FakeDiscord.start({ token: TOKEN, applicationId: APPLICATION_ID });
      const base = {
        token: TOKEN,
        applicationId: APPLICATION_ID,
        apiUrl: fake.apiUrl,
        shards: 'auto' as const,
      };
      const guildId = fake.guildId;
      const guild = await registerCommands({ ...base, guildId, moderatorRoles: [] });
      expect(guild).toMatchObject({ scope: 'guild', names: ['consensus'] });
      const global = await registerCommands({ ...base, guildId: undefined, moderatorRoles: [] });
      expect(global).toMatchObject({ scope: 'global', names: ['consensus'] });
      expect(fake.requests.map((r) => [r.method, r.path, r.authorized])).toEqual([
        ['PUT', `/applications/${APPLICATION_ID}/guilds/${guildId}/commands`, true],
        ['PUT', `/applications/${APPLICATION_ID}/commands`, true],
      ]);
      expect(fake.requests[0]?.body).toEqual([consensusCommand()]);
    });

    it('says which setting to fix when Discord refuses the registration, never showing the token', async () => {
      fake = await FakeDiscord.start({ token: TOKEN, applicationId: APPLICATION_ID });
      const run = (settings: Record<string, string>) => runRegistration(fake, settings);
      const wrongToken = `${TOKEN.slice(0, -4)}nope`;
      const rejected = await run({
        DISCORD_TOKEN: wrongToken,
        DISCORD_APPLICATION_ID: APPLICATION_ID,
      });
      expect(rejected.code).toBe(1);
      expect(rejected.output).toMatch(/Discord rejected DISCORD_TOKEN \(401 Unauthorized\)/);
      expect(rejected.output).toContain('Bot > Reset Token');
      expect(rejected.output).not.toContain(wrongToken);
      // The application id of another app: Discord's 403 (code 20012).
      const otherApp = '1222222222222222222';
      const mismatched = await run({ DISCORD_TOKEN: TOKEN, DISCORD_APPLICATION_ID: otherApp });
      expect(mismatched.code).toBe(1);
      expect(mismatched.output).toMatch(
        /DISCORD_APPLICATION_ID 1222222222222222222: it is not the application of DISCORD_TOKEN's bot/,
      );
      // A server the bot is not in (or was invited to without applications.commands): 50001.
      const notThere = await run({
        DISCORD_TOKEN: TOKEN,
        DISCORD_APPLICATION_ID: APPLICATION_ID,
        DISCORD_GUILD_ID: GUILD,
      });
      expect(notThere.code).toBe(1);
      expect(notThere.output).toMatch(
        new RegExp(
          `server DISCORD_GUILD_ID ${GUILD}: the bot is not in that server, or was invited without the applications.commands scope`,
        ),
      );
      expect(notThere.output).toContain(`client_id=${APPLICATION_ID}`);
      for (const { output } of [rejected, mismatched, notThere]) {
        expect(output).not.toContain(TOKEN);
        expect(output).not.toMatch(/\n\s+at /);
      }
    });

    it('says, after two tries, that Discord did not answer, naming the API URL without its secrets', async () => {
      // A server that takes the request and never answers it (a proxy that swallows it).
      const requests: string[] = [];
      const silent = createServer((req) => {
        requests.push(`${req.method} ${req.url}`);
      });
      silent.listen(0, '127.0.0.1');
      await once(silent, 'listening');
      fake = await FakeDiscord.start({ token: TOKEN, applicationId: APPLICATION_ID });
      try {
        const { port } = silent.address() as AddressInfo;
        const config = {
          token: TOKEN,
          applicationId: APPLICATION_ID,
          apiUrl: `http://user:secret@127.0.0.1:${port}`,
          guildId: undefined,
          shards: 'auto' as const,
          moderatorRoles: [],
        };
        const error = await registerCommands(config, { timeoutMs: 300 }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(requests).toHaveLength(2);
        const told = registrationProblem(error, config, 300);
        expect(told).toBe(
          `DISCORD_API_URL http://127.0.0.1:${port}/ did not answer within 0.3 s, 2 times: check this machine's connection to it, or unset DISCORD_API_URL to use Discord’s own, and run this again.`,
        );
        expect(told).not.toContain('secret');
      } finally {
        silent.closeAllConnections();
        silent.close();
      }
    });

    it('removes a server’s own copy with --remove, so it does not show /consensus twice beside the global one', async () => {
      fake = await FakeDiscord.start({ token: TOKEN, applicationId: APPLICATION_ID });
      const settings = {
        DISCORD_TOKEN: TOKEN,
        DISCORD_APPLICATION_ID: APPLICATION_ID,
        DISCORD_GUILD_ID: fake.guildId,
      };
      const removed = await runRegistration(fake, settings, ['--remove']);
      expect(removed).toEqual({
        code: 0,
        output: `Removed the bot's commands from guild ${fake.guildId}; a global /consensus stays.\n`,
      });
      const globally = await runRegistration(
        fake,
        { DISCORD_TOKEN: TOKEN, DISCORD_APPLICATION_ID: APPLICATION_ID },
        ['--remove'],
      );
      expect(globally.code).toBe(0);
      expect(fake.requests.map((r) => [r.method, r.path, r.body])).toEqual([
        ['PUT', `/applications/${APPLICATION_ID}/guilds/${fake.guildId}/commands`, []],
        ['PUT', `/applications/${APPLICATION_ID}/commands`, []],
      ]);
      // A word it does not know registers nothing: it may have meant something else.
      const typo = await runRegistration(fake, settings, ['--remvoe']);
      expect(typo.code).toBe(2);
      expect(typo.output).toContain('usage: npm run discord:commands [-- --remove]');
      expect(fake.requests).toHaveLength(2);
    });
  });
});

describe('Discord setup: connecting', () => {
  let fake: FakeDiscord;
  afterEach(async () => {
    await fake.close();
  });

  const connect = (apiUrl: string, token = TOKEN) =>
    createDiscord(
      {
        token,
        applicationId: APPLICATION_ID,
        apiUrl,
        guildId: undefined,
        moderatorRoles: [],
        shards: 'auto',
      },
      { log: new RecordingLog(), readyTimeoutMs: 5_000 },
    );
  const noService = {} as Parameters<ReturnType<typeof createDiscord>['start']>[0];

  it('says how to fix a rejected token, without showing it', async () => {
    fake = await FakeDiscord.start({ token: TOKEN, applicationId: APPLICATION_ID });
    const wrong = `${TOKEN.slice(0, -4)}nope`;
    const error = await connect(fake.apiUrl, wrong)
      .start(noService)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscordStartError);
    expect((error as Error).message).toMatch(/rejected DISCORD_TOKEN: reset the token/);
    expect((error as Error).message).not.toContain(wrong);
  });

  it('says how to enable the Message Content intent when Discord refuses it', async () => {
    fake = await FakeDiscord.start({
      token: TOKEN,
      applicationId: APPLICATION_ID,
      messageContentEnabled: false,
    });
    const error = await connect(fake.apiUrl)
      .start(noService)
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/Privileged Gateway Intents > Message Content Intent/);
  });
});

describe('Discord setup: the application id', () => {
  it('says so when DISCORD_APPLICATION_ID is another application than the token’s, and invites the right one', async () => {
    const otherApp = '1222222222222222222';
    const world = await startWorld({ discordEnv: { DISCORD_APPLICATION_ID: otherApp } });
    try {
      const mismatch = world.log.lines.find((l) => l.level === 'error');
      expect(mismatch?.message).toMatch(
        /^DISCORD_APPLICATION_ID is not the application of DISCORD_TOKEN's bot/,
      );
      expect(mismatch?.fields).toEqual({ configured: otherApp, actual: APPLICATION_ID });
      const connected = world.log.lines.find((l) => l.message === 'discord connected');
      const fields = (connected?.fields ?? {}) as { invite?: string };
      const invite = new URL(String(fields.invite));
      expect(invite.searchParams.get('client_id')).toBe(APPLICATION_ID);
    } finally {
      await world.stop();
    }
  });

  it('logs no such error when the application id is right', async () => {
    const world = await startWorld();
    try {
      expect(world.log.lines.filter((l) => l.level === 'error')).toEqual([]);
    } finally {
      await world.stop();
    }
  });
});

describe('Discord setup: while the gateway connection is lost', () => {
  /**
   * Whether `probe` comes true within 5 s. It answers rather than throws: the bot must
   * not be stopped while discord.js waits for the gateway (its destroy() then never
   * resolves), so a test waits for the session's event before it asserts.
   */
  const becomes = (probe: () => boolean) =>
    until(probe, 5_000).then(
      () => true,
      () => false,
    );

  it('is not ready until discord.js has resumed the session, and says so in the log', async () => {
    const world = await startWorld();
    try {
      expect(world.discord.ready()).toBe(true);
      const resumed = once(world.discord.client, Events.ShardResume);
      let wentUnready = false;
      // The fake holds the reconnect until the probe has had its look at the gap.
      await world.fake.dropConnection({
        whileGone: async () => {
          wentUnready = await becomes(() => !world.discord.ready());
        },
      });
      await resumed;
      expect(wentUnready).toBe(true);
      expect(world.discord.ready()).toBe(true);
      expect(world.fake.identifies).toHaveLength(1);
      expect(world.log.lines.map((l) => [l.level, l.message])).toEqual(
        expect.arrayContaining([
          ['warn', 'gateway connection lost, reconnecting'],
          ['info', 'gateway session resumed'],
        ]),
      );
    } finally {
      await world.stop();
    }
  });

  it('is not ready until a session that could not be resumed starts afresh', async () => {
    const world = await startWorld();
    try {
      const renewed = once(world.discord.client, Events.ShardReady);
      let wentUnready = false;
      await world.fake.dropSession(async () => {
        wentUnready = await becomes(() => !world.discord.ready());
      });
      await renewed;
      expect(wentUnready).toBe(true);
      expect(world.discord.ready()).toBe(true);
      expect(world.fake.identifies).toHaveLength(2);
    } finally {
      await world.stop();
    }
  });
});

describe('Discord setup: when Discord ends the connection for good', () => {
  it('logs what to fix, calls onFatal and stops being ready, on a close after start', async () => {
    const fatal: string[] = [];
    const world = await startWorld({ onFatal: (message) => fatal.push(message) });
    try {
      expect(world.discord.ready()).toBe(true);
      // The token was reset in the Developer Portal while the bot ran.
      world.fake.closeGateway(4004, 'Authentication failed.');
      await world.fake.waitFor(() => fatal.length > 0, 'fatal close');
      expect(fatal).toEqual([expect.stringMatching(/rejected DISCORD_TOKEN: reset the token/)]);
      expect(world.discord.ready()).toBe(false);
      const line = world.log.lines.find((l) => l.message === fatal[0]);
      expect(line).toMatchObject({ level: 'error', fields: { code: 4004 } });
    } finally {
      await world.stop();
    }
  });

  it('exits the process with status 1 by default, saying how to fix it', async () => {
    const fake = await FakeDiscord.start({ token: TOKEN, applicationId: APPLICATION_ID });
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./fatal-child.ts', import.meta.url))],
      {
        env: {
          ...process.env,
          DISCORD_API_URL: fake.apiUrl,
          DISCORD_TOKEN: TOKEN,
          DISCORD_APPLICATION_ID: APPLICATION_ID,
        },
        stdio: 'pipe',
      },
    );
    try {
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await until(() => stdout.includes('connected') || exitedEarly(stderr), 15_000);
      expect(stdout).toContain('connected');
      // The Message Content intent was switched off in the portal.
      fake.closeGateway(4014, 'Disallowed intent(s).');
      expect(await exited).toBe(1);
      expect(stderr).toContain(
        'Discord refused the Message Content intent: enable it in the Developer Portal',
      );
    } finally {
      // A child that did not exit must not outlive the test.
      if (child.exitCode === null) child.kill('SIGKILL');
      await fake.close();
    }
  }, 30_000);
});
