import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration suites start real processes on fixed loopback ports; run files one at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
