import { parseArgs } from 'node:util';
import { joinValues } from '../../src/app/cli-args.js';
import { FakeOpenAI, schemaName } from './openai.js';

/**
 * `npm run fake:openai -- --port N [--latency MS]`: the fake OpenAI server on
 * 127.0.0.1:N (0 = any free port), for running the demo or the bot against it.
 * Prints its base URL, then one line per request, until killed.
 */
const USAGE = 'Usage: npm run fake:openai -- [--port N] [--latency MS]';
let values: { port: string; latency: string; help: boolean };
try {
  ({ values } = parseArgs({
    args: joinValues(process.argv.slice(2), new Set(['port', 'latency'])),
    options: {
      port: { type: 'string', default: '0' },
      latency: { type: 'string', default: '0' },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  // A wrong flag is a usage error, as in the project's other commands, not a stack trace.
  console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const port = Number(values.port);
const latencyMs = Number(values.latency);
if (!Number.isInteger(port) || port < 0 || port > 65_535 || !(latencyMs >= 0)) {
  console.error('--port takes 0..65535 and --latency a number of milliseconds');
  process.exit(2);
}

const fake = await FakeOpenAI.start({ port, latencyMs }).catch((error: NodeJS.ErrnoException) => {
  if (error.code !== 'EADDRINUSE') throw error;
  console.error(`port ${port} on 127.0.0.1 is in use; give another with --port (0 = any free one)`);
  process.exit(1);
});
console.log(`Fake OpenAI server listening at ${fake.baseURL}`);
console.log(`  OPENAI_BASE_URL=${fake.baseURL} npm run demo`);

let seen = 0;
const timer = setInterval(() => {
  for (; seen < fake.requests.length; seen++) {
    const r = fake.requests[seen];
    if (!r) continue;
    const what = schemaName(r.body) ?? '';
    console.log(`${new Date(r.at).toISOString()} ${r.method} ${r.path} ${what}`.trimEnd());
  }
}, 100);

const stop = async () => {
  clearInterval(timer);
  await fake.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
