import { ConfigSchema, healthPort } from './config.js';

/**
 * The container's HEALTHCHECK: exits 0 when this process answers /healthz on its port.
 * The port comes from the same settings, parsed the same way and chosen by the same
 * function as the process's own (serve.ts), so the two cannot disagree; nothing else of
 * the project is loaded, so it starts fast and fails only for its own reasons.
 */
const ports = ConfigSchema.pick({ PORT: true, METRICS_PORT: true }).safeParse(process.env);
if (!ports.success) {
  console.error(
    `healthcheck: ${ports.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
  );
  process.exit(1);
}
const url = `http://127.0.0.1:${healthPort(ports.data)}/healthz`;

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
