// `npm run test:system`: the suites in test/system/, which need real system software (coturn's
// turnserver and turnutils_uclient, systemd-analyze; `.ci/run` installs them with apt-get). The normal
// configuration ignores that folder, so `npm test` stays runnable on any machine with Node alone.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/system'],
  testPathIgnorePatterns: ['/node_modules/'],
  // turnutils_uclient needs ~5 s per allocation; each spawn has its own tighter bound inside the tests.
  testTimeout: 60000,
};
