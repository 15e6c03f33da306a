// esbuild options every app's `nx build` adds to those of its target (nx.json's targetDefaults.build).
//
// Nest's dependency injection reads the constructor parameter types that TypeScript records as
// decorator metadata (emitDecoratorMetadata); esbuild does not emit it. The tsc plugin hands the files
// that contain decorators to TypeScript's transpiler and leaves the rest to esbuild.
const path = require('node:path');
const esbuildPluginTsc = require('esbuild-plugin-tsc');

module.exports = {
  // `node dist/apps/<app>/main.js`: the workspace's package.json declares no module type, so .js is CommonJS.
  outExtension: { '.js': '.js' },
  plugins: [esbuildPluginTsc({ tsconfigPath: path.join(__dirname, '../../tsconfig.base.json') })],
};
