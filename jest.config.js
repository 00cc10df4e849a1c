/** ESM TypeScript through ts-jest; run with NODE_OPTIONS=--experimental-vm-modules. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: { isolatedModules: true } }]
  },
  testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
  testTimeout: 120000,
  // Most end-to-end suites wait (polls, Retry-After, guest time), not compute: measured, build-customize
  // takes 141 s of wall time for 25 s of CPU. Four workers keep two cores busy.
  maxWorkers: 4
}
