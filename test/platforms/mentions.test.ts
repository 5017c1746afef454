import { describe, expect, it } from 'vitest';
import { replyFromDiscord } from '../../src/platforms/discord/text.js';
import { replyFromSlack } from '../../src/platforms/slack/text.js';

const ID = '123456789012345678';

describe('replies of mentions alone', () => {
  it('are no opinion on either platform, whatever punctuation or emoji is beside them', () => {
    for (const text of [`<@${ID}>`, `<@!${ID}> 👍`, `<@&${ID}>, @everyone!`, '@here ?']) {
      expect(replyFromDiscord(text, new Map())).toBe('');
    }
    for (const text of ['<@U1>', '<@W2|ana> 👍', '<!channel>!', '<!subteam^S1|@eng> <!everyone>']) {
      expect(replyFromSlack(text)).toBe('');
    }
  });

  it('leave a reply with a word or a number in it whole, and leave a reply with no mention alone', () => {
    expect(replyFromDiscord(`<@${ID}> 2`, new Map([[ID, 'ana']]))).toBe('@ana 2');
    expect(replyFromDiscord(`ask <@&${ID}> in <#${ID}>`, new Map())).toBe('ask @role in #channel');
    expect(replyFromDiscord(`<@${ID}> yes`, new Map())).toBe(`@${ID} yes`);
    expect(replyFromDiscord('👍', new Map())).toBe('👍');
    expect(replyFromSlack('<@U1> yes')).toBe('@U1 yes');
    expect(replyFromSlack('?!')).toBe('?!');
    // A channel link is not someone called into the thread: the reply is kept.
    expect(replyFromSlack('<#C1|general>')).toBe('#general');
  });
});
