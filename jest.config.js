// One jest run for the whole workspace: `unit` needs nothing, `integration` runs against a real
// Kafka broker and a real Postgres (testcontainers where Docker exists, local services otherwise).
const { compilerOptions } = require('./tsconfig.base.json');

const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, [target]]) => [`^${alias}$`, `<rootDir>/${target}`]),
);

const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    },
  ],
};

const common = { rootDir: __dirname, transform, moduleNameMapper, testEnvironment: 'node', setupFiles: ['reflect-metadata'] };

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,tools}/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs,tools}/**/*.int-spec.ts'],
      globalSetup: '<rootDir>/libs/platform/testing/src/global-setup.ts',
      globalTeardown: '<rootDir>/libs/platform/testing/src/global-teardown.ts',
    },
  ],
  testTimeout: 60000,
};
