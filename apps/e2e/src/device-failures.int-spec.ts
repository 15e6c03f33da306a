import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { TestStack, startStack } from './support/stack';
import { TestTenant, createTenant } from './support/tenant';

const state = { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true };
const LIMIT = 5;

/** A check-in sent from one loopback address (Linux answers on all of 127/8): a client of its own. */
function checkInFrom(localAddress: string, url: string, credential: string): Promise<{ status: number; retryAfter?: string; code?: string }> {
  const body = JSON.stringify({ state });
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/device/v1/check-in`,
      { method: 'POST', localAddress, headers: { authorization: `Device ${credential}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, code: (JSON.parse(text) as { code?: string }).code }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Issue "device calls see every command": repeated failures from one client may be rate-limited
 * with 429 and Retry-After, never by slowing everyone. The gateway counts a client address's
 * refused device calls (DEVICE_FAILURE_LIMIT per DEVICE_FAILURE_WINDOW_S).
 */
describe('device calls: repeated refused credentials from one client address', () => {
  let stack: TestStack;
  let tenant: TestTenant;

  beforeAll(async () => {
    stack = await startStack({ env: { DEVICE_FAILURE_LIMIT: String(LIMIT), DEVICE_FAILURE_WINDOW_S: '600' } });
    tenant = await createTenant(stack, 'Guessing', 'intune');
  });
  afterAll(() => stack.stop());

  const enroll = async () => {
    const res = await tenant.admin.post(tenant.path('/enrollments'), { platform: 'android', enrollmentType: 'bulk', serialNumber: `SN-${randomUUID()}`, osVersion: '14' });
    expect(res.status).toBe(201);
    return res.body.deviceCredential as string;
  };

  it('after LIMIT refusals an address gets 429 TOO_MANY_FAILURES with Retry-After; its devices answered 200 lately, and other addresses, go on', async () => {
    const attacker = '127.0.0.2';
    const known = await enroll();
    const later = await enroll();
    // A device answered 200 lately passes the address's limit.
    expect((await checkInFrom(attacker, stack.gateway.url, `bogus-${randomUUID()}`)).status).toBe(401);
    expect((await checkInFrom(attacker, stack.gateway.url, known)).status).toBe(200);

    for (let i = 1; i < LIMIT; i++) {
      expect(await checkInFrom(attacker, stack.gateway.url, `dc_${randomUUID()}.${randomUUID()}.guess${i}`)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    }
    const limited = await checkInFrom(attacker, stack.gateway.url, `bogus-${randomUUID()}`);
    expect(limited).toMatchObject({ status: 429, code: 'TOO_MANY_FAILURES' });
    expect(Number(limited.retryAfter)).toBeGreaterThan(590);
    expect(Number(limited.retryAfter)).toBeLessThanOrEqual(600);

    // A credential of that address answered 200 before still passes; one it never used waits.
    expect((await checkInFrom(attacker, stack.gateway.url, known)).status).toBe(200);
    expect((await checkInFrom(attacker, stack.gateway.url, later)).status).toBe(429);
    // Another client is not slowed or refused by the first one's failures.
    expect((await checkInFrom('127.0.0.3', stack.gateway.url, later)).status).toBe(200);
    expect((await checkInFrom('127.0.0.3', stack.gateway.url, `bogus-${randomUUID()}`)).status).toBe(401);
  });
});
