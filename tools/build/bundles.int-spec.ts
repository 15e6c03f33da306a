import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { WORKSPACE_ROOT, eventually, testEnv, testKafka, uniqueName } from '@mdm/platform/testing';
import { serviceNodeFlags, stackServices } from '../stack/services';

// What the image runs (Dockerfile): `node dist/apps/<app>/main.js`, with no node_modules.
// Docker cannot run here, so this builds every app and starts each bundle with plain node, no loader.

const bundle = (app: string) => path.join(WORKSPACE_ROOT, 'dist/apps', app, 'main.js');
const packageJson = JSON.parse(readFileSync(path.join(WORKSPACE_ROOT, 'package.json'), 'utf8'));
const namespace = uniqueName('bundles').replace(/_/g, '-');
/** The directories the bundles ran from. */
const copied: string[] = [];

/** The bare module names a bundle requires at run time (npm packages and Node's own modules). */
function requiredModules(app: string): string[] {
  const source = readFileSync(bundle(app), 'utf8');
  // Not `x.require(…)`: TypeORM's bundled app-root-path asks Electron's `remote.require`.
  const names = [...source.matchAll(/(?<![.\w$])require\("([^"./][^"]*)"\)/g)].map(([, name]) => name);
  return [...new Set(names)].sort();
}

/**
 * Starts the bundle on a port the system picks, resolving with its URL once it says it listens. It
 * runs from a copy outside the workspace, as the image holds it (`dist/apps/<app>/main.js` under
 * its working directory): no node_modules is within reach.
 */
function startBundle(app: string, name: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const image = mkdtempSync(path.join(os.tmpdir(), 'mdm-image-'));
  copied.push(image);
  mkdirSync(path.join(image, 'dist/apps', app), { recursive: true });
  copyFileSync(bundle(app), path.join(image, 'dist/apps', app, 'main.js'));
  const child = spawn(process.execPath, [...serviceNodeFlags(app), `dist/apps/${app}/main.js`], { cwd: image, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${app} exited with code ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === `${name} listening` && entry.url) resolve({ child, url: entry.url });
    });
  });
}

describe('the built services, as the image runs them', () => {
  beforeAll(() => {
    // Cached by nx: only the apps whose inputs changed are bundled again.
    execFileSync(process.execPath, [require.resolve('nx/bin/nx'), 'run-many', '-t', 'build', '-p', 'tag:type:app'], {
      cwd: WORKSPACE_ROOT,
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
      stdio: 'pipe',
    });
  }, 300_000);

  afterAll(async () => {
    for (const dir of copied) rmSync(dir, { recursive: true, force: true });
    const admin = testKafka('bundles').admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.includes(`.${namespace}.`));
    if (topics.length) await admin.deleteTopics({ topics });
    await admin.disconnect();
  });

  it.each(stackServices.map(({ app }) => app))(
    '%s: the bundle carries its npm packages: it requires only Node modules and the optional peers the build leaves out',
    (app) => {
      const optionalPeers: string[] = require('./esbuild.config.js').external;
      const node = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
      const leftOut = (name: string) => optionalPeers.some((peer) => (peer.endsWith('/*') ? name.startsWith(peer.slice(0, -1)) : name === peer));
      const outside = requiredModules(app).filter((name) => !node.has(name) && !leftOut(name));
      expect(outside).toEqual([]);
      // None of them is a dependency: an image needs no node_modules to run a service.
      expect(requiredModules(app).filter((name) => leftOut(name) && packageJson.dependencies[name])).toEqual([]);
    },
  );

  it.each(stackServices.map((s) => [s.app, s] as const))(
    '%s: `node dist/apps/<app>/main.js` answers /health 200 and stops cleanly on SIGTERM',
    async (app, { definition }) => {
      // The service's Nest providers are injected by their constructors' parameter types: without the
      // decorator metadata in the bundle, it would stop at start-up instead of listening.
      const env = testEnv({
        LOG_LEVEL: 'info',
        [definition.portVariable]: '0',
        DB_SCHEMA: uniqueName(app.replace('-', '_')),
        KAFKA_TOPIC_NAMESPACE: namespace,
        ...(definition.consumes && { KAFKA_CONSUMER_GROUP: uniqueName(definition.consumes.groupId) }),
      });
      const { child, url } = await startBundle(app, definition.name, { PATH: process.env.PATH, ...env });
      try {
        // Until its consumers have joined, a service may still say it is degraded.
        const health = await eventually(async () => {
          const response = await fetch(`${url}/health`);
          expect(response.status).toBe(200);
          return response.json();
        });
        expect(health).toMatchObject({ status: 'ok', checks: { postgres: 'ok', kafka: 'ok' } });
      } finally {
        child.removeAllListeners('exit');
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
    },
    90_000,
  );
});
