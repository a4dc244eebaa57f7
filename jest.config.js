import { availableParallelism } from 'node:os';

// ESM TypeScript through ts-jest; type checking is done once by `tsc --noEmit` in `npm test`,
// so ts-jest only transpiles (isolatedModules in tsconfig.json) and each test file loads fast.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The MongoDB contract needs a real server: without MONGODB_URI it is not run at all (rather than skipped).
  // Likewise the PostgreSQL contract and cross-instance tests without DATABASE_URL (scripts/test-postgres.sh starts one).
  testPathIgnorePatterns: [
    '/node_modules/',
    '/test/system/',
    '/test/reliability/',
    ...(process.env.MONGODB_URI ? [] : ['/test/store/mongo']),
    ...(process.env.DATABASE_URL ? [] : ['/test/store/postgres', '/test/signaling/postgres']),
  ],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }] },
  testTimeout: 20000,
  // One worker more than the cores (jest's default is one fewer): many suites spend part of their time waiting
  // on a spawned server, a socket or a child process, and the spare worker runs meanwhile. On 2 cores, 3
  // workers ran npm test's suites in 68 s where 2 took 79 s.
  maxWorkers: Math.min(8, availableParallelism() + 1),
};
