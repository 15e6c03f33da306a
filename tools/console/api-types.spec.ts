import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '../..');
const committed = 'apps/console/src/api/schema.d.ts';

/** The generator runs in a process of its own: openapi-typescript loads ES modules that jest's runtime cannot. */
const check = (...file: string[]) =>
  promisify(execFile)(process.execPath, ['-r', './tools/register.js', 'tools/console/api-types.ts', '--check', ...file], { cwd: root }).then(
    () => 'fresh',
    (err: { stderr: string }) => err.stderr.trim(),
  );

describe("the console's API types", () => {
  it('are those of the OpenAPI document the gateway serves', async () => {
    expect(await check()).toBe('fresh');
  }, 60_000);

  it('are reported stale when one operation differs from the document', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api-types-'));
    const older = path.join(dir, 'schema.d.ts');
    writeFileSync(older, readFileSync(path.join(root, committed), 'utf8').replace('get: operations["getSession"];', ''));
    try {
      expect(await check(older)).toBe(`${path.relative(root, older)} is stale: npm run console:api-types`);
    } finally {
      rmSync(dir, { recursive: true });
    }
  }, 60_000);
});
