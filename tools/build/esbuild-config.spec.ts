import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { WORKSPACE_ROOT } from '@mdm/platform/testing';

// The apps' build options (nx.json's targetDefaults.build adds these to its own).
const appBuildOptions = require('./esbuild.config.js');

describe('the bundler configuration of every app', () => {
  // Under the workspace, so that the bundle's external packages resolve from its node_modules.
  mkdirSync(path.join(WORKSPACE_ROOT, 'dist'), { recursive: true });
  const dir = mkdtempSync(path.join(WORKSPACE_ROOT, 'dist', '.esbuild-config-spec-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the decorator metadata Nest injects by: a provider that names its dependency only by type gets it', async () => {
    const entry = path.join(dir, 'fixture.ts');
    writeFileSync(
      entry,
      `import 'reflect-metadata';
       import { Injectable, Module } from '@nestjs/common';
       import { NestFactory } from '@nestjs/core';
       @Injectable() export class Clock { now() { return 'tick'; } }
       @Injectable() export class Greeter { constructor(readonly clock: Clock) {} }
       @Module({ providers: [Clock, Greeter] }) class FixtureModule {}
       export async function greeterClock() {
         const app = await NestFactory.createApplicationContext(FixtureModule, { logger: false });
         try { return app.get(Greeter).clock?.now(); } finally { await app.close(); }
       }`,
    );
    const outfile = path.join(dir, 'fixture.js');
    await build({
      ...appBuildOptions,
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      packages: 'external',
      tsconfig: path.join(WORKSPACE_ROOT, 'tsconfig.base.json'),
      logLevel: 'silent',
    });
    const { greeterClock } = require(outfile) as { greeterClock(): Promise<string | undefined> };
    expect(await greeterClock()).toBe('tick');
  });
});
