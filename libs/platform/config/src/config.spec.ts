import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { thrown } from '@mdm/platform/testing';
import { ConfigError, commonConfigShape, loadConfig, port, productionSecrets } from './index';

/** The error loadConfig stops with. */
const configError = (fn: () => unknown): ConfigError => thrown(fn, ConfigError);

describe('configuration', () => {
  it('applies defaults for a local machine: services bind loopback only', () => {
    const config = loadConfig('svc', commonConfigShape, {});
    expect(config).toMatchObject({
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/mdm',
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      MDM_TEST_CLOCK: false,
      LOG_LEVEL: 'info',
    });
  });

  it('stops start-up with every bad variable named', () => {
    const shape = { ...commonConfigShape, SVC_PORT: port(3000), EXTRA_URL: z.string().url() };
    let error: unknown;
    try {
      loadConfig('svc', shape, { KAFKA_BROKERS: 'nohost', SVC_PORT: '70000', MDM_TEST_CLOCK: 'maybe' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^svc: invalid configuration/);
    for (const name of ['KAFKA_BROKERS', 'SVC_PORT', 'MDM_TEST_CLOCK', 'EXTRA_URL']) expect(message).toContain(`- ${name}`);
  });

  describe('secrets', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mdm-config-'));
    const secret = 'file-secret-0123456789abcdef-0123456789';
    const file = path.join(dir, 'key');
    writeFileSync(file, `${secret}\n`);

    it('a secret comes from <NAME>_FILE: the file content without its final line break', () => {
      expect(loadConfig('svc', commonConfigShape, { MDM_GATEWAY_SIGNING_KEY_FILE: file }).MDM_GATEWAY_SIGNING_KEY).toBe(secret);
    });

    it('both the variable and its file, or a file that cannot be read, stop start-up with the name', () => {
      const both = configError(() => loadConfig('svc', commonConfigShape, { MDM_GATEWAY_SIGNING_KEY: secret, MDM_GATEWAY_SIGNING_KEY_FILE: file }));
      expect(both.message).toContain('- MDM_GATEWAY_SIGNING_KEY: set both MDM_GATEWAY_SIGNING_KEY and MDM_GATEWAY_SIGNING_KEY_FILE');
      const missing = configError(() => loadConfig('svc', commonConfigShape, { MDM_GATEWAY_SIGNING_KEY_FILE: path.join(dir, 'none') }));
      expect(missing.message).toContain(`- MDM_GATEWAY_SIGNING_KEY_FILE: cannot read ${path.join(dir, 'none')} (ENOENT)`);
    });

    it('production refuses to start without its secrets; a bad secret is named, never shown', () => {
      const unset = configError(() => loadConfig('svc', commonConfigShape, { NODE_ENV: 'production' }, productionSecrets));
      expect(unset.message).toBe(
        'svc: invalid configuration\n  - MDM_GATEWAY_SIGNING_KEY: required when NODE_ENV=production (or MDM_GATEWAY_SIGNING_KEY_FILE)',
      );
      const short = configError(() => loadConfig('svc', commonConfigShape, { MDM_GATEWAY_SIGNING_KEY: 'too-short-secret' }, productionSecrets));
      expect(short.message).toBe('svc: invalid configuration\n  - MDM_GATEWAY_SIGNING_KEY: at least 32 characters');
      expect(loadConfig('svc', commonConfigShape, { NODE_ENV: 'production', MDM_GATEWAY_SIGNING_KEY: secret }, productionSecrets).MDM_GATEWAY_SIGNING_KEY).toBe(secret);
    });
  });
});
