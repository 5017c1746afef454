import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConversation } from '../../src/eval/polis.js';
import {
  COMMENTS_HEADER,
  PARTICIPANTS_HEADER,
  SUMMARY,
  VOTES_HEADER,
  writeExport,
} from './helpers.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/polis/london.youth.policing');

const GOOD = {
  comments: `${COMMENTS_HEADER}\n1,d,0,5,0,0,1,"First, with a comma"\n2,d,1,5,0,0,-1,Rejected\n3,d,2,6,0,0,0,Third`,
  votes: `${VOTES_HEADER}\n10,d,0,1,1\n20,d,0,1,-1\n20,d,0,1,0\n5,d,1,1,1\n7,d,2,2,-1`,
  participants: `${PARTICIPANTS_HEADER}\n1,0,0,0,0,0\n2,,0,0,0,0`,
  summary: SUMMARY,
};

describe('loadConversation', () => {
  it('loads the london fixture', () => {
    const conversation = loadConversation(FIXTURE);
    expect(conversation.name).toBe('london.youth.policing');
    expect(conversation.topic).toMatch(/young people/);
    expect(conversation.participants).toHaveLength(26);
    expect(conversation.comments.length).toBeGreaterThan(30);
    expect(conversation.votes.length).toBeGreaterThan(600);
  });

  it('drops rejected comments and their votes, and keeps the latest vote (later row on a tie)', () => {
    const conversation = loadConversation(writeExport('ok', GOOD));
    expect(conversation.comments.map((c) => c.id)).toEqual(['0', '2']);
    expect(conversation.comments[0]?.text).toBe('First, with a comma');
    expect(conversation.votes).toEqual([
      { voterId: '1', commentId: '0', vote: 0 },
      { voterId: '2', commentId: '2', vote: -1 },
    ]);
    expect([...conversation.groups]).toEqual([['1', '0']]);
  });

  it('keeps the vote with the largest timestamp, wherever its row is in the file', () => {
    // Voter 2 on comment 2: the later row is the older vote (files need not be sorted).
    const votes = `${GOOD.votes}\n3,d,2,2,1`;
    const conversation = loadConversation(writeExport('unsorted', { ...GOOD, votes }));
    expect(conversation.votes).toContainEqual({ voterId: '2', commentId: '2', vote: -1 });
    expect(conversation.votes).toHaveLength(2);
  });

  it('rejects a comment-id listed twice, naming file and line', () => {
    const comments = `${GOOD.comments}\n4,d,2,7,0,0,0,Third again`;
    expect(() => loadConversation(writeExport('twice', { ...GOOD, comments }))).toThrow(
      /comments\.csv.*line 5.*duplicate comment-id 2/,
    );
  });

  it('reads a comment whose author-id is blank as one by an unknown author', () => {
    const comments = GOOD.comments.replace('3,d,2,6,0,0,0,Third', '3,d,2,,0,0,0,Third');
    const conversation = loadConversation(writeExport('blank-author', { ...GOOD, comments }));
    expect(conversation.comments.map((c) => [c.id, c.authorId])).toEqual([
      ['0', '5'],
      ['2', ''],
    ]);
  });

  it('names the missing file of an incomplete folder', () => {
    const folder = writeExport('incomplete', { ...GOOD, votes: null });
    expect(() => loadConversation(folder)).toThrow(/missing votes\.csv/);
  });

  it('tells a folder that does not exist from a file given as one', () => {
    const folder = writeExport('here', GOOD);
    expect(() => loadConversation(join(folder, 'nowhere'))).toThrow(/nowhere: does not exist$/);
    expect(() => loadConversation(join(folder, 'votes.csv'))).toThrow(/votes\.csv: not a folder$/);
  });

  it('names a file of the export that is a folder instead, and reads a summary.csv folder with a note', () => {
    const votesFolder = writeExport('votes-folder', { ...GOOD, votes: null });
    mkdirSync(join(votesFolder, 'votes.csv'));
    expect(() => loadConversation(votesFolder)).toThrow(/votes-folder\/votes\.csv: not a file$/);
    const summaryFolder = writeExport('summary-folder', { ...GOOD, summary: null });
    mkdirSync(join(summaryFolder, 'summary.csv'));
    const conversation = loadConversation(summaryFolder);
    expect(conversation.topic).toBeNull();
    expect(conversation.comments.map((c) => c.id)).toEqual(['0', '2']);
    expect(conversation.notes).toEqual([
      expect.stringMatching(/summary\.csv: not a file \(the topic is not read/),
    ]);
  });

  it('reads a folder without summary.csv, which only gives the topic', () => {
    const conversation = loadConversation(writeExport('no-summary', { ...GOOD, summary: null }));
    expect(conversation.topic).toBeNull();
    expect(conversation.comments.map((c) => c.id)).toEqual(['0', '2']);
  });

  it('reads a folder whose summary.csv does not parse, without the topic, and says so', () => {
    const folder = writeExport('bad-summary', {
      ...GOOD,
      summary: 'topic,Test\nconversation-description,He said "hi" there\n',
    });
    const conversation = loadConversation(folder);
    expect(conversation.topic).toBeNull();
    expect(conversation.comments.map((c) => c.id)).toEqual(['0', '2']);
    expect(conversation.notes).toEqual([
      expect.stringMatching(/summary\.csv line 2: .*the topic is not read/),
    ]);
  });

  it('rejects a row with the wrong number of fields, naming file and line', () => {
    const folder = writeExport('malformed', {
      ...GOOD,
      votes: `${VOTES_HEADER}\n10,d,0,1,1\n11,d,0,2\n`,
    });
    expect(() => loadConversation(folder)).toThrow(/votes\.csv line 3: malformed row: 4 fields/);
  });

  it('counts lines across multi-line comment bodies when naming a bad row', () => {
    const folder = writeExport('multiline', {
      ...GOOD,
      comments: `${COMMENTS_HEADER}\n1,d,0,5,0,0,1,"two\nlines"\n2,d,1,5,0,0,2,Bad moderation`,
    });
    expect(() => loadConversation(folder)).toThrow(/comments\.csv line 4: moderated/);
  });

  it('rejects an unknown vote value, naming file and line', () => {
    const folder = writeExport('badvote', {
      ...GOOD,
      votes: `${VOTES_HEADER}\n10,d,0,1,1\n11,d,0,2,1\n12,d,2,2,2\n`,
    });
    expect(() => loadConversation(folder)).toThrow(
      /votes\.csv line 4: vote: unknown vote value.*"2"/,
    );
  });

  it('leaves out votes on comments that comments.csv does not list, and says so', () => {
    const folder = writeExport('orphan', {
      ...GOOD,
      votes: `${VOTES_HEADER}\n10,d,9,1,1\n11,d,0,1,1\n12,d,9,2,-1\n`,
    });
    const conversation = loadConversation(folder);
    expect(conversation.votes).toEqual([{ voterId: '1', commentId: '0', vote: 1 }]);
    expect(conversation.notes).toEqual([
      expect.stringMatching(
        /votes\.csv: left out 2 votes on comment-ids that comments\.csv does not list \(first: line 2, comment-id 9\)$/,
      ),
    ]);
    expect(loadConversation(writeExport('listed', GOOD)).notes).toEqual([]);
  });

  it('reads a blank moderated as unmoderated (only -1 is left out)', () => {
    const folder = writeExport('blank-moderated', {
      ...GOOD,
      comments: `${COMMENTS_HEADER}\n1,d,0,5,0,0,,Blank\n2,d,1,5,0,0,-1,Rejected`,
    });
    expect(loadConversation(folder).comments.map((c) => c.id)).toEqual(['0']);
  });

  it('rejects a file without a required column', () => {
    const folder = writeExport('nocol', { ...GOOD, participants: 'participant\n1\n' });
    expect(() => loadConversation(folder)).toThrow(
      /participants-votes\.csv line 1: missing column "group-id"/,
    );
  });
});
