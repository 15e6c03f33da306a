import { Writable } from 'node:stream';
import { createLogger } from './index';

describe('logging', () => {
  it('never writes a secret: credentials, signed contexts, the operator token and the signing key are censored at any depth', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger('probe', 'info', sink);
    logger.info({ authorization: 'Bearer s1', headers: { authorization: 'Device s2', 'x-mdm-context': 'v1.s3.s4' } }, 'call');
    logger.warn({ req: { headers: { authorization: 'Bearer s5' } }, config: { MDM_OPERATOR_TOKEN: 's6', MDM_GATEWAY_SIGNING_KEY: 's7' } }, 'config');
    logger.info({ operatorToken: 's8', signingKey: 's9', kept: 'visible' }, 'made');
    const text = lines.join('');
    for (const secret of ['s1', 's2', 's3', 's5', 's6', 's7', 's8', 's9']) expect(text).not.toContain(secret);
    expect(JSON.parse(lines[0]).headers).toEqual({ authorization: '[redacted]', 'x-mdm-context': '[redacted]' });
    expect(JSON.parse(lines[2])).toMatchObject({ operatorToken: '[redacted]', kept: 'visible' });
  });
});
