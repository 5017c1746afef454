import { parseArgs } from 'node:util';
import type { Scope } from '../domain/scope.js';
import { DEFAULT_QUEUE_OPTIONS, PipelineQueues } from '../pipeline/queues.js';
import { createStore } from '../store/store.js';
import { onceEach, parsedOrStatus } from './cli-args.js';
import { connectToBotRedis, runAsScript, workspaceFromFlags } from './workspace-cli.js';

/**
 * `npm run forget -- --platform slack --workspace T123 [--yes]`: deletes everything the bot
 * keeps of one workspace (or Discord server): its rounds, opinions, ratings, learned
 * ratings matrix, limits and queued jobs. Without `--yes` it only says what it would
 * delete. For a workspace that uninstalled the app, or asked for its data to be erased.
 */

const USAGE = 'usage: npm run forget -- --platform slack|discord|console --workspace ID [--yes]';

function place(scope: Scope): string {
  return `${scope.platform} ${scope.platform === 'discord' ? 'server' : 'workspace'} ${scope.workspaceId}`;
}

const counted = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parsedOrStatus(argv, parse, USAGE);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const scope = workspaceFromFlags('forget', values, USAGE);
  if (!scope.ok) {
    process.stderr.write(`${scope.message}\n`);
    return scope.status;
  }
  const connected = await connectToBotRedis('forget', "the bot's data is in that Redis");
  if (!connected.ok) {
    process.stderr.write(`${connected.message}\n`);
    return connected.status;
  }
  const { config, redis } = connected.value;
  const bull = redis.duplicate();
  const queues = new PipelineQueues(bull, {
    ...DEFAULT_QUEUE_OPTIONS,
    prefix: `${config.REDIS_PREFIX}:bull`,
  });
  try {
    const store = createStore(redis, config.REDIS_PREFIX);
    const where = place(scope.value);
    if (!values.yes) {
      const survey = await store.tenants.survey(scope.value);
      process.stdout.write(
        `${where}: ${counted(survey.rounds, 'round')} in ${counted(survey.keys, 'key')}, and its queued jobs, would be deleted. Run again with --yes to delete them.\n`,
      );
      return 0;
    }
    // Jobs first: a queued stage that ran after its round was deleted would fail on it.
    const jobs = await queues.removeJobsOf(scope.value);
    if (jobs.active > 0) {
      process.stderr.write(
        `forget: ${counted(jobs.active, 'job')} of ${where} ${jobs.active === 1 ? 'is' : 'are'} running in a worker now; nothing of the workspace's data was deleted. Stop the bot and the workers, or wait for the round to finish, and run it again.\n`,
      );
      return 1;
    }
    const erased = await store.tenants.erase(scope.value);
    process.stdout.write(
      `${where}: deleted ${counted(erased.rounds, 'round')} (${counted(erased.keys, 'key')}) and ${counted(jobs.removed, 'queued job')}.\n`,
    );
    return 0;
  } finally {
    await queues.close();
    bull.disconnect();
    redis.disconnect();
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: onceEach(argv),
    options: {
      platform: { type: 'string' },
      workspace: { type: 'string' },
      yes: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

runAsScript(import.meta.url, 'forget', main);
