// `npm run test:system`: the suites in test/system/, which need real system software (coturn's
// turnserver and turnutils_uclient, systemd-analyze; `.ci/run` installs them with apt-get), and the
// reliability suite in test/reliability/ (kill -9, dropped responses, SIGTERM, a full disk: minutes, not
// seconds). The normal configuration ignores both folders, so `npm test` stays quick and needs Node alone.
import { availableParallelism } from 'node:os';
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/system', '<rootDir>/test/reliability'],
  // Several instances on one PostgreSQL need a database: without DATABASE_URL that suite is not run at all
  // (rather than skipped); .ci/run starts a private cluster and runs it on its own.
  testPathIgnorePatterns: ['/node_modules/', ...(process.env.DATABASE_URL ? [] : ['/test/reliability/postgres'])],
  // turnutils_uclient needs ~5 s per allocation; each spawn has its own tighter bound inside the tests.
  testTimeout: 60000,
  // As many workers as cores, not the unit suites' one more: each of these runs Chromium, coturn or built
  // servers of its own, and a call through coturn on a starved CPU missed its 30 s connect bound once.
  maxWorkers: availableParallelism(),
};
