import { describe, expect, it } from 'vitest';
import { CsvError, parseCsv } from '../../src/eval/csv.js';

describe('parseCsv', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks', () => {
    const text = 'a,b,c\r\n1,"x, y","say ""hi"""\n2,"two\nlines",\n';
    expect(parseCsv(text, 'f.csv')).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', 'x, y', 'say "hi"'] },
      { line: 3, fields: ['2', 'two\nlines', ''] },
    ]);
  });

  it('counts lines across quoted line breaks', () => {
    const records = parseCsv('h\n"a\nb"\nc', 'f.csv');
    expect(records.map((r) => r.line)).toEqual([1, 2, 4]);
  });

  it('rejects a quote inside an unquoted field, naming file and line', () => {
    expect(() => parseCsv('a,b\n1,x"y\n', 'votes.csv')).toThrow('votes.csv line 2: quote inside');
  });

  it('rejects an unterminated quoted field at the line it opens', () => {
    expect(() => parseCsv('a\n1\n"open\n\n', 'c.csv')).toThrow(CsvError);
    expect(() => parseCsv('a\n1\n"open\n\n', 'c.csv')).toThrow('c.csv line 3: unterminated');
  });

  it('rejects text after a closing quote', () => {
    expect(() => parseCsv('"a"b\n', 'x.csv')).toThrow('x.csv line 1: unexpected text');
  });

  it('reports a stray opening quote at the row it opens in, not where the parser gave up', () => {
    // Line 3 opens a quote that never closes; line 5's quoted field seems to close it.
    const text = 'id,body\n1,fine\n2,"never closed\n3,plain\n4,"quoted, here"\n5,last\n';
    expect(() => parseCsv(text, 'comments.csv')).toThrow(
      'comments.csv line 3: unexpected text after a closing quote at line 5: a quoted field opened in this row runs on to there',
    );
    // The same with CRLF line ends, and with whitespace after the seeming closing quote.
    expect(() => parseCsv(text.replaceAll('\n', '\r\n'), 'c.csv')).toThrow('c.csv line 3:');
    expect(() => parseCsv('a\n"x\ny" z\n', 't.csv')).toThrow(
      't.csv line 2: unexpected text after a closing quote at line 3',
    );
  });

  it('counts a CRLF inside a quoted field as one line break', () => {
    // Members' replies keep their CRLFs, so the bot's own exports have them inside bodies.
    const lf = 'id,body\n1,"two\r\nlines"\n2,"three\r\nmore\r\nlines"\n3,x"y\n';
    expect(parseCsv(lf.replace('3,x"y\n', ''), 'c.csv').map((r) => r.line)).toEqual([1, 2, 4]);
    expect(() => parseCsv(lf, 'c.csv')).toThrow('c.csv line 7: quote inside');
    const crlf = lf.replaceAll(/(?<!\r)\n/g, '\r\n');
    expect(() => parseCsv(crlf, 'c.csv')).toThrow('c.csv line 7: quote inside');
    expect(() => parseCsv(`${crlf}4,"open\r\n`, 'c.csv')).toThrow('c.csv line 7: quote inside');
  });

  it('accepts CR-only line ends and ignores a BOM', () => {
    expect(parseCsv('\ufeffa,b\r1,2\r', 'mac.csv')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', '2'] },
    ]);
  });

  it('reports an error after a multi-line field at its physical line', () => {
    expect(() => parseCsv('h,i\n"a\nb",1\n2,x"y\n', 'm.csv')).toThrow('m.csv line 4: quote inside');
  });

  it('reads an empty file as no records', () => {
    expect(parseCsv('', 'empty.csv')).toEqual([]);
  });
});
