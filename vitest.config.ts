import { defineConfig } from 'vitest/config';

// Two cores: at most two test files at once; integration files that start servers or worker
// processes run in files of their own and clean up after themselves.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
