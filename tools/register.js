// Runs the TypeScript sources directly: swc transpiles (with decorator metadata, which Nest's
// dependency injection needs) and tsconfig-paths resolves the @mdm/* aliases.
const path = require('node:path');
const root = path.resolve(__dirname, '..');
const tsconfig = require(path.join(root, 'tsconfig.base.json'));

require('ts-node').register({
  project: path.join(root, 'tsconfig.json'),
  transpileOnly: true,
  swc: true,
});
require('tsconfig-paths').register({ baseUrl: root, paths: tsconfig.compilerOptions.paths });
