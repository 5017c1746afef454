/**
 * Makes `exit` run when the reader of the output goes away (`npm run eval | head`).
 * Nothing more can be shown then, and Node would otherwise die of the write's unhandled
 * 'error' with a stack trace. The reader chose to stop, so a closed pipe (EPIPE) exits 0;
 * any other write error exits 1.
 */
export function onClosedOutput(
  exit: (code: number) => void,
  streams: readonly NodeJS.WritableStream[] = [process.stdout, process.stderr],
): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => exit(error.code === 'EPIPE' ? 0 : 1));
  }
}
