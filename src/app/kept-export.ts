import { urlSecrets } from './logger.js';

/** The folder the printed command writes to, which `npm run eval -- demo-export` reads. */
export const KEPT_EXPORT_FOLDER = 'demo-export';

/**
 * The command that exports what `--keep` kept, ready to paste: with the Redis it is in
 * (REDIS_URL is often set for the demo alone), unless the URL holds a password, which
 * is not printed.
 */
export function keptExportCommand(redisUrl: string, prefix: string, workspaceId: string): string {
  const url =
    urlSecrets(redisUrl).length > 0
      ? "'<your REDIS_URL>'"
      : /^[\w:/.@%+-]+$/.test(redisUrl)
        ? redisUrl
        : `'${redisUrl.replaceAll("'", "'\\''")}'`;
  return `REDIS_URL=${url} REDIS_PREFIX=${prefix} npm run export -- --platform console --workspace ${workspaceId} --out ${KEPT_EXPORT_FOLDER}`;
}
