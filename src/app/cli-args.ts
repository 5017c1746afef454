/**
 * `--flag value` as one `--flag=value` for the flags in `valueFlags`: parseArgs reads a
 * value that starts with '-' (`--seed -1`) as another option, and its error ("argument is
 * ambiguous") would not name the flag's own rule. A value that starts with '--' stays an
 * option: it is more likely a flag whose value was left out.
 */
export function joinValues(argv: readonly string[], valueFlags: ReadonlySet<string>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (
      arg.startsWith('--') &&
      valueFlags.has(arg.slice(2)) &&
      next !== undefined &&
      !next.startsWith('--')
    ) {
      joined.push(`${arg}=${next}`);
      i += 1;
    } else joined.push(arg);
  }
  return joined;
}

/**
 * `args` as they are, unless an option is given twice (`--seed 1 --seed 2`): parseArgs
 * would keep the last silently, and the one meant may be the first. Throws then, for the
 * command to answer as for any other bad flag. Arguments after a bare `--` are values.
 */
export function onceEach(args: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const arg of args) {
    if (arg === '--') break;
    if (!arg.startsWith('--')) continue;
    const name = arg.slice(2).split('=')[0] as string;
    if (seen.has(name)) throw new Error(`--${name} is given twice: give it once`);
    seen.add(name);
  }
  return [...args];
}

/**
 * What the parser made of `argv`; or, once the usage is written (for `--help`, or after
 * the parser's complaint), the exit status.
 */
export function parsedOrStatus<T extends { values: { help?: boolean } }>(
  argv: readonly string[],
  parse: (argv: readonly string[]) => T,
  usage: string,
): T | number {
  let parsed: T;
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  return parsed;
}
