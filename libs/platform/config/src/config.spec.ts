import { z } from 'zod';
import { ConfigError, commonConfigShape, loadConfig, port } from './index';

describe('configuration', () => {
  it('applies defaults for a local machine', () => {
    const config = loadConfig('svc', commonConfigShape, {});
    expect(config).toMatchObject({
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
});
