// esbuild options every app's `nx build` adds to those of its target (nx.json's targetDefaults.build).
//
// Nest's dependency injection reads the constructor parameter types that TypeScript records as
// decorator metadata (emitDecoratorMetadata); esbuild does not emit it. The tsc plugin hands the files
// that contain decorators to TypeScript's transpiler and leaves the rest to esbuild.
const path = require('node:path');
const esbuildPluginTsc = require('esbuild-plugin-tsc');

/**
 * The bundle carries its npm packages too: one file to load instead of some 1,600 modules, which is
 * most of a service's start-up. Left outside are the packages the bundled libraries require only
 * for features the services do not use, each inside a lazy loader or a try: Nest's validation pipes,
 * websockets and other microservice transports, TypeORM's other drivers, pg's native binding. No
 * image installs them; the bundle smoke test starts every service without them.
 */
const optionalPeers = [
  ...['class-transformer', 'class-validator', '@nestjs/websockets/*'],
  ...['amqp-connection-manager', 'amqplib', 'ioredis', 'mqtt', 'nats'],
  ...['@google-cloud/spanner', '@sap/hana-client', '@sap/hana-client/*', 'better-sqlite3', 'mongodb', 'mssql', 'mysql', 'mysql2'],
  ...['oracledb', 'react-native-sqlite-storage', 'redis', 'sql.js', 'sqlite3', 'typeorm-aurora-data-api-driver'],
  ...['pg-native', 'pg-query-stream'],
];

module.exports = {
  // `node dist/apps/<app>/main.js`: the workspace's package.json declares no module type, so .js is CommonJS.
  outExtension: { '.js': '.js' },
  external: optionalPeers,
  // A service keeps its bundle's source in memory: without comments and spaces, and in ASCII (one
  // byte a character, where one non-ASCII character would make V8 hold all of it at two), it takes a
  // third of what it would. Names stay as written, for stack traces and Nest's messages.
  minifyWhitespace: true,
  minifySyntax: true,
  charset: 'ascii',
  // The source map turns stack traces into TypeScript terms (--enable-source-maps); it need not carry
  // the sources themselves, which would make it several times the bundle's size in the image.
  sourcesContent: false,
  plugins: [esbuildPluginTsc({ tsconfigPath: path.join(__dirname, '../../tsconfig.base.json') })],
};
