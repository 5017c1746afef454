import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSlack } from '../../../src/app/slack.js';
import { loadSlackConfig } from '../../../src/app/slack-config.js';
import type { SlackService } from '../../../src/platforms/slack/service.js';
import { FakeSlack } from '../../fakes/slack.js';
import { RecordingLog } from '../../support/harness.js';
import { APP_TOKEN, BOT_TOKEN, SECRET } from './support.js';

describe('connecting to Slack', () => {
  let fake: FakeSlack;
  beforeEach(async () => {
    fake = await new FakeSlack().start();
  });
  afterEach(async () => {
    await fake.stop();
  });

  async function connect(env: Record<string, string>) {
    const config = loadSlackConfig({ SLACK_API_URL: fake.apiUrl, PORT: '0', ...env });
    if (!config) throw new Error('Slack not enabled');
    const log = new RecordingLog();
    const slack = createSlack(config, { log, retry: { retries: 0 } });
    const error = await slack.start({} as SlackService).then(
      () => null,
      (e: unknown) => e as Error,
    );
    await slack.stop(100);
    return { error, log };
  }

  it('names the bot token, never its value, when Slack refuses it', async () => {
    fake.fail('auth.test', 'invalid_auth');
    const { error, log } = await connect({
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
    });
    expect(error?.message).toBe('Slack did not accept SLACK_BOT_TOKEN (invalid_auth).');
    expect(JSON.stringify(log.lines)).not.toContain(BOT_TOKEN);
  });

  it('says Slack could not be reached, not that it refused the token, when no answer comes', async () => {
    // A port nobody listens on: the token is never checked.
    const closed = await new FakeSlack().start();
    const apiUrl = closed.apiUrl;
    await closed.stop();
    const { error } = await connect({
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: apiUrl,
    });
    expect(error?.message).toMatch(
      /^Could not reach Slack's Web API \(.+\): check the network, or SLACK_API_URL if it is set\.$/,
    );
    expect(error?.message).not.toContain(BOT_TOKEN);
  });

  it('names the app token when Socket Mode cannot connect', async () => {
    fake.fail('apps.connections.open', 'invalid_auth');
    const { error, log } = await connect({
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_APP_TOKEN: APP_TOKEN,
    });
    expect(error?.message).toBe(
      'Could not open a Socket Mode connection with SLACK_APP_TOKEN (invalid_auth).',
    );
    expect(JSON.stringify(log.lines)).not.toContain(APP_TOKEN);
  });
});
