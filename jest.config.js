// Two projects: fast unit and contract tests, and end-to-end tests against booted test hosts.
const transform = { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] }
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform,
  testEnvironment: 'node'
}

export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
      // What the code under test prints shows only under a test that fails.
      testEnvironment: '<rootDir>/__tests__/setup/quiet-environment.ts'
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalTeardown: '<rootDir>/test/e2e/teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/e2e/setup.ts']
    }
  ]
}
