// The Dockerfile cannot be built here (no Docker engine): what it promises is checked on its text.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Copy, DockerfileParser, From, Instruction, Label } from 'dockerfile-ast';
import { discoverApps } from '../compose/compose-model';
import { serviceNodeFlags, stackServices } from '../stack/services';

const ROOT = path.resolve(__dirname, '../..');
const dockerfile = DockerfileParser.parse(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const { ports: healthcheckPorts } = require('./healthcheck.js') as { ports: Record<string, [string, number]> };

interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

/** The build stages in order, each with its base image (ARG defaults resolved) and its instructions. */
const stages: Stage[] = (() => {
  const args = Object.fromEntries(dockerfile.getInitialARGs().map((a) => [a.getProperty()!.getName(), a.getProperty()!.getValue() ?? '']));
  const result: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction instanceof From) {
      const image = instruction.getImage()!.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? '');
      result.push({ name: instruction.getBuildStage() ?? String(result.length), image, instructions: [] });
    } else if (result.length) {
      result[result.length - 1].instructions.push(instruction);
    }
  }
  return result;
})();
const runtime = stages[stages.length - 1];
const stage = (name: string) => stages.find((s) => s.name === name)!;
const keyword = (s: Stage, k: string) => s.instructions.filter((i) => i.getKeyword() === k);
const copiesFrom = (s: Stage) => keyword(s, 'COPY').map((c) => ({ from: (c as Copy).getFromFlag()?.getValue(), args: c.getArgumentsContent()! }));
const npmInstalls = (s: Stage) =>
  keyword(s, 'RUN')
    .flatMap((r) => r.getArgumentsContent()!.split(/&&|;/))
    .map((command) => command.trim())
    .filter((command) => /^npm (ci|install|i)\b/.test(command));
/** An exec-form (JSON array) argument list, or undefined for the shell form. */
const execForm = (args: string) => (args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : undefined);

describe('Dockerfile', () => {
  it('has a build and a runtime stage, the runtime last', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
  });

  it('runs the services on the current Node LTS, slim', () => {
    const nodeMajor = /^>=(\d+)$/.exec(packageJson.engines.node)![1];
    expect(runtime.image).toMatch(new RegExp(`^node:${nodeMajor}(\\.[\\d.]+)?-[a-z]+-slim$`));
  });

  it('builds the bundles with nx in the build stage', () => {
    expect(keyword(stage('build'), 'RUN').map((r) => r.getArgumentsContent())).toContainEqual(
      expect.stringMatching(/nx(\.js)? run-many -t build -p tag:type:app/),
    );
  });

  it('installs no package into the runtime: the bundles carry their production dependencies, and no node_modules is copied in', () => {
    // tools/build/bundles.int-spec.ts checks that each bundle requires only Node's modules and
    // optional peers no install has, and starts it without a node_modules of its own.
    expect(npmInstalls(runtime)).toEqual([]);
    expect(copiesFrom(runtime).filter((c) => /node_modules/.test(c.args))).toEqual([]);
  });

  it('copies into the runtime only the bundles and the health check: no sources, no dev tools', () => {
    expect(copiesFrom(runtime)).toEqual([
      { from: 'build', args: '/src/dist/apps ./dist/apps' },
      { from: undefined, args: 'tools/docker/healthcheck.js ./healthcheck.js' },
    ]);
  });

  it('runs as a non-root user given by number (for Kubernetes runAsNonRoot)', () => {
    const users = keyword(runtime, 'USER').map((u) => u.getArgumentsContent()!.trim());
    expect(users).toHaveLength(1);
    const [uid] = users[0].split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
  });

  it('lets SIGTERM reach node: tini is PID 1 (exec form) and the command execs node on the bundle SERVICE names', () => {
    const [entrypoint] = keyword(runtime, 'ENTRYPOINT');
    expect(execForm(entrypoint.getArgumentsContent()!)).toEqual(['tini', '--']);
    expect(keyword(runtime, 'RUN').map((r) => r.getArgumentsContent())).toContainEqual(expect.stringMatching(/apt-get install .*\btini\b/));
    const [cmd] = keyword(runtime, 'CMD');
    const command = execForm(cmd.getArgumentsContent()!)!;
    expect(command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(command[2]).toMatch(/exec node [^;]*"dist\/apps\/\$SERVICE\/main\.js"$/);
  });

  it('runs each service with the V8 flags npm start and the bench run it with (serviceNodeFlags), and refuses to start without SERVICE', () => {
    const [cmd] = keyword(runtime, 'CMD');
    const script = execForm(cmd.getArgumentsContent()!)![2];
    // The command's own shell, with a `node` that prints what it was given.
    const bin = mkdtempSync(path.join(os.tmpdir(), 'mdm-cmd-'));
    writeFileSync(path.join(bin, 'node'), '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n', { mode: 0o755 });
    const run = (service: string | undefined) =>
      spawnSync('sh', ['-c', script], { env: { PATH: `${bin}:/usr/bin:/bin`, ...(service && { SERVICE: service }) }, encoding: 'utf8' });
    try {
      for (const { app } of stackServices) {
        expect(run(app).stdout.trim().split('\n')).toEqual([...serviceNodeFlags(app), `dist/apps/${app}/main.js`]);
      }
      const unset = run(undefined);
      expect(unset.status).not.toBe(0);
      expect(unset.stdout).toBe('');
      expect(unset.stderr).toContain('set SERVICE to an app under apps/');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('health-checks /health with the script it copies, on the port of the service SERVICE names', () => {
    const [healthcheck] = keyword(runtime, 'HEALTHCHECK');
    const args = healthcheck.getArgumentsContent()!;
    expect(execForm(args.slice(args.indexOf('CMD') + 3))).toEqual(['node', 'healthcheck.js']);
    expect(existsSync(path.join(ROOT, 'tools/docker/healthcheck.js'))).toBe(true);
    const apps = discoverApps(ROOT);
    expect(healthcheckPorts).toEqual(Object.fromEntries(apps.map((a) => [a.dir, [a.definition.portVariable, a.definition.defaultPort]])));
  });

  it('is labelled with its version and source revision from build arguments', () => {
    const labels = Object.fromEntries(
      keyword(runtime, 'LABEL').flatMap((l) => (l as Label).getProperties().map((p) => [p.getName(), p.getValue()])),
    );
    expect(labels).toMatchObject({
      'org.opencontainers.image.version': '${VERSION}',
      'org.opencontainers.image.revision': '${REVISION}',
    });
    const args = keyword(runtime, 'ARG').map((a) => a.getArgumentsContent()!.split('=')[0].trim());
    expect(args).toEqual(expect.arrayContaining(['VERSION', 'REVISION']));
  });
});
