/**
 * RFC 4180 CSV, hand-written because no CSV library is installed in this project (a
 * parser such as csv-parse would be preferable; see the eval notes). Polis exports
 * quote fields that hold commas, quotes or newlines (comment bodies span lines), so a
 * line-by-line split is not enough.
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

/**
 * Parses the whole text into records. A field that opens with a quote runs to the
 * matching quote ("" inside is a literal quote); a quote anywhere else in a field, or
 * text after a closing quote, is malformed. CRLF and LF both end a record; a final
 * line break does not add an empty record, and a BOM is ignored.
 */
export function parseCsv(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        const openLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new CsvError(file, openLine, 'unterminated quoted field');
          const ch = text[i] as string;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          field += ch;
          i++;
        }
        const next = text[i];
        if (i < n && next !== ',' && next !== '\n' && next !== '\r') {
          throw new CsvError(file, line, 'unexpected text after a closing quote');
        }
      } else {
        const start = i;
        while (i < n) {
          const ch = text[i];
          if (ch === ',' || ch === '\n' || ch === '\r') break;
          if (ch === '"') throw new CsvError(file, line, 'quote inside an unquoted field');
          i++;
        }
        field = text.slice(start, i);
      }
      fields.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') {
      i++;
      if (text[i] === '\n') i++;
      line++;
    } else if (text[i] === '\n') {
      i++;
      line++;
    }
    records.push({ line: startLine, fields });
  }
  return records;
}
