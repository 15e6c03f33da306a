// Nx module boundaries make the architecture a rule: platform libs know no service, a context
// reaches another only through its contracts lib, domain code depends on nothing but contracts.
const nx = require('@nx/eslint-plugin');

const scopes = ['authority', 'licensing', 'enrollment', 'device-sync', 'projection', 'gateway'];
const testFiles = ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.fixture.ts'];

/** The allowed dependencies; tests may also use the testing lib. */
function boundaries(inTests) {
  const plus = (tags) => (inTests ? [...tags, 'type:testing'] : tags);
  return [
    'error',
    {
      enforceBuildableLibDependency: false,
      allow: [],
      // The platform libs' own tests use the testing lib, which builds on them: a cycle of projects
      // made by test files only (their code may not import the testing lib: type:platform above).
      ignoredCircularDependencies: [['platform-testing', 'tag:type:platform']],
      depConstraints: [
        { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: plus(['type:contracts']) },
        { sourceTag: 'type:domain', onlyDependOnLibsWithTags: plus(['type:domain', 'type:contracts']) },
        { sourceTag: 'type:platform', onlyDependOnLibsWithTags: plus(['type:platform', 'type:contracts']) },
        { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:testing', 'type:platform', 'type:contracts'] },
        { sourceTag: 'type:app', onlyDependOnLibsWithTags: plus(['type:platform', 'type:contracts', 'type:domain']) },
        { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
        ...scopes.map((scope) => ({
          sourceTag: `scope:${scope}`,
          onlyDependOnLibsWithTags: [`scope:${scope}`, 'scope:shared', 'type:contracts'],
        })),
      ],
    },
  ];
}

module.exports = [
  { ignores: ['**/node_modules/**', 'dist/**', 'infra/kafka/libs/**', '.nx/**', 'coverage/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries(false),
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  { files: testFiles, rules: { '@nx/enforce-module-boundaries': boundaries(true) } },
  {
    // The X.509 and CMS libraries need their crypto engine set before use, and kafkajs its request
    // queue patched: each is done once, in the platform.
    files: ['**/*.ts'],
    ignores: ['libs/platform/crypto/**', 'libs/platform/kafka/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@peculiar/x509', message: "Import { x509 } from '@mdm/platform/crypto/x509' (its engine is set there)." },
            { name: 'pkijs', message: "Import { pkijs } from '@mdm/platform/crypto/cms' (its engine is set there)." },
            {
              name: 'kafkajs',
              message: "Make clients with '@mdm/platform/kafka' (createKafka, quietKafka): its request queue is patched there.",
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    // The bench's raw-producer baseline measures kafkajs itself.
    files: ['bench/scenarios/kafka-produce.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': 'off' },
  },
  {
    // End-to-end tests, and a service's integration tests, boot the apps themselves: they reach into apps/ by design.
    files: ['apps/*/src/**/*.int-spec.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  {
    files: ['apps/e2e/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
];
