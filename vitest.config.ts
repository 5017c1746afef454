import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/redis-server.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two cores: keep forks few so Redis-backed suites do not starve each other.
    pool: 'forks',
    maxWorkers: 2,
  },
});
