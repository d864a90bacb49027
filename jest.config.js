// ESM project: jest runs under --experimental-vm-modules (see package.json "test") and @swc/jest strips types.
const swc = ['@swc/jest', { jsc: { target: 'es2024', parser: { syntax: 'typescript' } }, module: { type: 'es6' } }];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  testEnvironment: 'node',
};
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
    },
  ],
  testTimeout: 60_000,
  // Integration tests share one machine's namespaces, sshd ports and Redis, and the machine has two cores:
  // one test file at a time (jest has no per-project worker count).
  maxWorkers: 1,
  // Once every test has reported, exit: a handle left by a failed integration test (a child process, a socket) must
  // not hold CI until its time limit. Seen once after a failure under load; the suites close what they open.
  forceExit: true,
};
