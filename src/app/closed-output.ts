/**
 * Keeps a command from dying with a stack trace when the reader of its output goes away
 * (`npm run eval | head`): Node would otherwise throw the write's unhandled 'error'. A
 * closed pipe (EPIPE) is the reader's choice, not a failure: with `stopWhenClosed` (a long
 * run nobody reads any more) `exit(0)` runs; otherwise the writes are dropped and the
 * command finishes with its own exit code, so a failure still exits non-zero. Any other
 * write error calls `exit(1)`.
 */
export function onClosedOutput(
  exit: (code: number) => void,
  options: { stopWhenClosed: boolean },
  streams: readonly NodeJS.WritableStream[] = [process.stdout, process.stderr],
): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') exit(1);
      else if (options.stopWhenClosed) exit(0);
    });
  }
}
