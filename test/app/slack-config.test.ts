import { describe, expect, it } from 'vitest';
import { loadSlackConfig } from '../../src/app/slack-config.js';

/** The message a bad Slack setting stops the bot with (empty when the settings parse). */
function problem(env: NodeJS.ProcessEnv): string {
  try {
    loadSlackConfig(env);
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('Slack settings errors', () => {
  it('never echo a token pasted into SLACK_MODERATORS, naming its place instead', () => {
    const message = problem({
      SLACK_BOT_TOKEN: 'xoxb-1-bot',
      SLACK_APP_TOKEN: 'xapp-1-app',
      SLACK_MODERATORS: 'U012AB3CD, xoxb-999-TOPSECRETTOKEN, sk-live-0123456789abcdefghij',
    });
    expect(message).toContain(
      'SLACK_MODERATORS: entry 2 is not a Slack member id (like U012AB3CD)',
    );
    expect(message).toContain('SLACK_MODERATORS: entry 3 is not a Slack member id');
    expect(message).not.toContain('TOPSECRET');
    expect(message).not.toContain('0123456789abcdefghij');
  });

  it('still quote a short plain word, so the typo is easy to find', () => {
    expect(
      problem({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SLACK_MODERATORS: 'alice' }),
    ).toContain('SLACK_MODERATORS: "alice" is not a Slack member id');
  });

  it('say each problem once (a user token as the bot token fails two checks)', () => {
    const message = problem({ SLACK_BOT_TOKEN: 'xoxp-1-user', SLACK_APP_TOKEN: 'xapp-1' });
    const line = 'SLACK_BOT_TOKEN: must be the bot token, which starts with xoxb-';
    expect(message.split('\n').filter((l) => l.trim() === line)).toHaveLength(1);
  });
});
