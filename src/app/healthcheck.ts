/**
 * The container's HEALTHCHECK: exits 0 when this process answers /healthz on its port.
 * Kept free of project imports so it starts fast and cannot fail for unrelated reasons.
 */
const port = process.env.METRICS_PORT || process.env.PORT || '3000';
const url = `http://127.0.0.1:${port}/healthz`;

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
