import { CsvError as LibraryCsvError, parse } from 'csv-parse/sync';

/**
 * RFC 4180 CSV through csv-parse. Polis exports quote fields that hold commas, quotes or
 * newlines (comment bodies span lines), so each record carries the physical line it
 * starts on, and every error names the file and a line.
 */

/** One parsed record and the 1-based physical line it starts on, for error messages. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

export class CsvError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file} line ${line}: ${detail}`);
    this.name = 'CsvError';
  }
}

/** The library's codes in the words of the loader's other errors. */
const DETAILS: Partial<Record<string, string>> = {
  CSV_QUOTE_NOT_CLOSED: 'unterminated quoted field',
  INVALID_OPENING_QUOTE: 'quote inside an unquoted field',
  CSV_INVALID_CLOSING_QUOTE: 'unexpected text after a closing quote',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'unexpected text after a closing quote',
};

/** Errors of a quoted field, which may run on over later rows before they show. */
const QUOTE_ERRORS: ReadonlySet<string> = new Set([
  'CSV_QUOTE_NOT_CLOSED',
  'CSV_INVALID_CLOSING_QUOTE',
  'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE',
]);

/**
 * Parses the whole text into records. CRLF, LF and CR all end a record (files edited on
 * different systems mix them); a final line break does not add a record, a blank line
 * inside the file is a record with one empty field, and a BOM is ignored. Rows of any
 * width are returned: the loader checks widths against the header itself, so that its
 * message can say what the header expects.
 */
export function parseCsv(text: string, file: string): CsvRecord[] {
  // Byte offsets just past each record, from csv-parse. Its own line count takes a CRLF
  // inside a quoted field for two breaks, so lines are counted here from the offsets.
  const ends: number[] = [];
  let libraryLines = 0;
  const lineOf = lineCounter(Buffer.from(text, 'utf8'));
  let fields: string[][];
  try {
    fields = parse(text, {
      bom: true,
      relax_column_count: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      on_record: (record: string[], info) => {
        ends.push(info.bytes);
        libraryLines = info.lines;
        return record;
      },
    });
  } catch (error) {
    if (!(error instanceof LibraryCsvError)) throw error;
    const started = lineOf(ends.at(-1) ?? 0);
    // Where the parser gave up, counted on from the record's start in the library's lines.
    const noticed =
      typeof error.lines === 'number'
        ? started + Math.max(0, error.lines - libraryLines - 1)
        : started;
    const detail = DETAILS[error.code] ?? error.message;
    if (!QUOTE_ERRORS.has(error.code)) throw new CsvError(file, noticed, detail);
    // A quoted field that never closes properly is only noticed where the parser gives up:
    // at the end of the file, or rows later where another row's quote seems to close it.
    // The row it opens in is where to look.
    const runsOn =
      noticed > started && error.code !== 'CSV_QUOTE_NOT_CLOSED'
        ? ` at line ${noticed}: a quoted field opened in this row runs on to there`
        : '';
    throw new CsvError(file, started, `${detail}${runsOn}`);
  }
  return fields.map((record, i) => ({
    line: lineOf(i === 0 ? 0 : (ends[i - 1] as number)),
    fields: record,
  }));
}

/**
 * The 1-based line of a byte offset, CRLF, LF and a lone CR each ending one line. Offsets
 * must not decrease from call to call (records come in order), so the whole file is
 * scanned once.
 */
function lineCounter(bytes: Buffer): (offset: number) => number {
  let at = 0;
  let line = 1;
  return (offset) => {
    const end = Math.min(offset, bytes.length);
    for (; at < end; at++) {
      const b = bytes[at];
      if (b === 0x0a || (b === 0x0d && bytes[at + 1] !== 0x0a)) line++;
    }
    return line;
  };
}
