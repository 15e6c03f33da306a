import { createHash, randomUUID, webcrypto } from 'node:crypto';
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { ContentInfo, SignedData } from '@peculiar/asn1-cms';
import { AsnConvert } from '@peculiar/asn1-schema';
import { x509 } from '@mdm/platform/crypto/x509';
import { createLogger } from '@mdm/platform/logging';
import { Fleet } from './fleet';
import { GatewayClient, ServerFeatures } from './gateway-client';
import { FleetState } from './state-file';

/**
 * The fleet against a small device API of the test's own: it answers what a test needs (a 401 for
 * a device not arrived yet, commands in a check-in answer) and records what the devices sent.
 */
describe('Fleet', () => {
  let server: Server;
  let url: string;
  let handle: (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;
  const calls: { path: string; body: Record<string, unknown>; credential?: string; signature?: string }[] = [];
  let fleet: Fleet | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
        calls.push({ path: req.url!.split('?')[0], body, credential: req.headers.authorization?.replace('Device ', ''), signature: req.headers['mdm-signature'] as string | undefined });
        handle(req, body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await fleet?.stop(100);
    fleet = undefined;
    calls.length = 0;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const checkInAnswer = (commands: { commandId: string; type: string }[] = []) => ({
    deviceId: randomUUID(),
    managedBy: 'intune',
    configurations: [],
    redundantConfigurations: [],
    commands,
    compliance: { state: 'compliant', reasons: [], source: 'intune' },
    mdmCertificate: { serial: 'AA', notAfter: '2030-01-01T00:00:00.000Z' },
    nextCheckInAt: new Date(Date.now() + 8 * 3_600_000).toISOString(),
  });
  /** Polls wait (a notification-less answer after the wait); the test's own handler takes the rest. */
  const polls = (res: ServerResponse) => setTimeout(() => json(res, 200, { notifications: [] }), 1000).unref();

  function newFleet(features: ServerFeatures = { enrollmentCsr: false, checkInCsr: false }, sign = false): Fleet {
    const state: FleetState = { version: 1, gateway: url, tenantId: randomUUID(), enrollToken: 'token', users: [], devices: [] };
    const client = new GatewayClient(url, { commandSockets: 8, pollSockets: 8 });
    fleet = new Fleet(state, client, features, { now: Date.now }, {
      waitSeconds: 1,
      jitterMs: 0,
      concurrency: 4,
      enrollConcurrency: 2,
      pollRampPerSecond: 100,
      sign,
      logger: createLogger('device-agent-test', 'silent'),
      random: () => 0,
    });
    return fleet;
  }
  const enrollAnswer = () => ({ deviceId: randomUUID(), deviceCredential: `dc_${randomUUID()}`, managedBy: 'intune', mdmCertificate: { serial: 'AA', notAfter: '2030-01-01T00:00:00.000Z' } });
  const until = async (check: () => boolean, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('not within the time');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('a device the server does not know yet at its first check-in (401) tries again, and polls only once checked in', async () => {
    let refusals = 2;
    handle = (req, _body, res) => {
      if (req.url!.endsWith('/enrollments')) return json(res, 201, enrollAnswer());
      if (req.url === '/device/v1/check-in') return refusals-- > 0 ? json(res, 401, { code: 'UNAUTHORIZED' }) : json(res, 200, checkInAnswer());
      polls(res);
    };
    const f = newFleet();
    f.start();
    await f.enroll(1, { platforms: ['android'], noncompliantShare: 0 });
    await until(() => calls.some((c) => c.path === '/device/v1/notifications'));
    expect(f.snapshot().pollsOpen).toBe(1);
    const paths = calls.map((c) => c.path);
    expect(paths.slice(0, 4)).toEqual(['/api/v1/tenants/' + f.state.tenantId + '/enrollments', '/device/v1/check-in', '/device/v1/check-in', '/device/v1/check-in']);
    expect(paths.indexOf('/device/v1/notifications')).toBeGreaterThan(3);
    expect(f.counters).toMatchObject({ checkIns: 1, removed: 0, errorsByKind: { 'check-in 401 before the first check-in': 2 } });
  });

  it('a device whose credential gets 401 after it checked in was removed: it stops calling', async () => {
    let known = true;
    handle = (req, _body, res) => {
      if (req.url!.endsWith('/enrollments')) return json(res, 201, enrollAnswer());
      if (!known) return json(res, 401, { code: 'UNAUTHORIZED' });
      if (req.url === '/device/v1/check-in') return json(res, 200, checkInAnswer());
      // The first poll answers with a notification once the device is unenrolled.
      setTimeout(() => {
        known = false;
        json(res, 200, { notifications: [{ notificationId: randomUUID(), reason: 'sync', createdAt: new Date().toISOString() }] });
      }, 100);
    };
    const f = newFleet();
    f.start();
    await f.enroll(1, { platforms: ['windows'], noncompliantShare: 0 });
    await until(() => f.state.devices[0]?.removed === true);
    const seen = calls.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(calls.length).toBe(seen);
    expect(f.snapshot()).toMatchObject({ active: 0, pollsOpen: 0 });
  });

  it('a 401 that does not say the device is unknown (UNAUTHENTICATED: a poll URL that is not a gateway) is an error, retried, not a removal', async () => {
    let refusals = 2;
    handle = (req, _body, res) => {
      if (req.url!.endsWith('/enrollments')) return json(res, 201, enrollAnswer());
      if (req.url === '/device/v1/check-in') return json(res, 200, checkInAnswer());
      if (refusals-- > 0) return json(res, 401, { code: 'UNAUTHENTICATED', message: "calls to this service need the gateway's signed context" });
      polls(res);
    };
    const f = newFleet();
    f.start();
    await f.enroll(1, { platforms: ['android'], noncompliantShare: 0 });
    await until(() => f.snapshot().pollsOpen === 1 && refusals < 0, 15_000);
    expect(f.state.devices[0].removed).toBe(false);
    expect(f.counters).toMatchObject({ removed: 0, errorsByKind: { 'poll 401 UNAUTHENTICATED': 2 } });
  });

  it('Mdm-Signature: with --sign a device with its certificate signs its check-ins (their body) and its polls (the empty body)', async () => {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const pem = (await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=device', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } })).toString('pem');
    handle = (req, _body, res) => {
      if (req.url!.endsWith('/enrollments')) return json(res, 201, { ...enrollAnswer(), mdmCertificate: { serial: 'AA', notAfter: '2030-01-01T00:00:00.000Z', pem } });
      if (req.url === '/device/v1/check-in') return json(res, 200, checkInAnswer());
      polls(res);
    };
    const f = newFleet({ enrollmentCsr: true, checkInCsr: false }, true);
    f.start();
    await f.enroll(1, { platforms: ['android'], noncompliantShare: 0 });
    await until(() => calls.some((c) => c.path === '/device/v1/notifications'));
    const signedDigest = (signature: string | undefined) => {
      const signed = AsnConvert.parse(AsnConvert.parse(Buffer.from(signature!, 'base64'), ContentInfo).content, SignedData);
      return Buffer.from(signed.signerInfos[0].signedAttrs!.find((a) => a.attrType === '1.2.840.113549.1.9.4')!.attrValues[0]).subarray(2).toString('hex');
    };
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const checkIn = calls.find((c) => c.path === '/device/v1/check-in')!;
    const poll = calls.find((c) => c.path === '/device/v1/notifications')!;
    expect([signedDigest(checkIn.signature), signedDigest(poll.signature)]).toEqual([sha256(JSON.stringify(checkIn.body)), sha256('')]);
  });

  it('an enrollment the server fails (503) or drops is tried again with backoff until it is enrolled', async () => {
    const refusals = ['503', 'drop', '503'];
    handle = (req, _body, res) => {
      if (req.url!.endsWith('/enrollments')) {
        const refusal = refusals.shift();
        if (refusal === 'drop') return req.socket.destroy();
        return refusal ? json(res, 503, { code: 'DEPENDENCY_LAGGING' }) : json(res, 201, enrollAnswer());
      }
      if (req.url === '/device/v1/check-in') return json(res, 200, checkInAnswer());
      polls(res);
    };
    const f = newFleet();
    await f.enroll(1, { platforms: ['android'], noncompliantShare: 0 });
    expect(f.state.devices).toHaveLength(1);
    expect(f.counters).toMatchObject({ enrolled: 1, errorsByKind: { 'enroll 503 DEPENDENCY_LAGGING (tried again)': 2, 'enroll 0 ECONNRESET (tried again)': 1 } });
  });

  it('R24: runs the commands of a check-in answer and reports their results in a check-in at once', async () => {
    const lock = { commandId: randomUUID(), type: 'remoteLock' };
    const odd = { commandId: randomUUID(), type: 'selfDestruct' };
    let first = true;
    handle = (req, _body, res) => {
      if (req.url!.endsWith('/enrollments')) return json(res, 201, enrollAnswer());
      if (req.url === '/device/v1/check-in') {
        const answer = checkInAnswer(first ? [lock, odd] : []);
        first = false;
        return json(res, 200, answer);
      }
      polls(res);
    };
    const f = newFleet();
    f.start();
    await f.enroll(1, { platforms: ['ios'], noncompliantShare: 0 });
    await until(() => f.counters.checkIns === 2);
    const checkIns = calls.filter((c) => c.path === '/device/v1/check-in').map((c) => c.body);
    expect(checkIns[0].commandResults).toBeUndefined();
    expect(checkIns[1].commandResults).toEqual([
      { commandId: lock.commandId, status: 'done' },
      { commandId: odd.commandId, status: 'failed', error: 'unsupported command selfDestruct' },
    ]);
    expect(f.state.devices[0]).toMatchObject({ locked: true, pendingResults: [] });
  });

  it('R13: enrolls with a CSR of the device key only when the server takes one', async () => {
    handle = (req, _body, res) => (req.url!.endsWith('/enrollments') ? json(res, 201, enrollAnswer()) : req.url === '/device/v1/check-in' ? json(res, 200, checkInAnswer()) : polls(res));
    const plain = newFleet();
    await plain.enroll(1, { platforms: ['android'], noncompliantShare: 0 });
    expect(calls[0].body).not.toHaveProperty('csrPem');
    await plain.stop(100);
    calls.length = 0;
    const withCsr = newFleet({ enrollmentCsr: true, checkInCsr: false });
    await withCsr.enroll(1, { platforms: ['android'], noncompliantShare: 1 });
    const csr = new x509.Pkcs10CertificateRequest(calls[0].body.csrPem as string);
    expect(csr.subject).toBe(`CN=${calls[0].body.serialNumber}`);
    expect(withCsr.state.devices[0].state.passcodeSet).toBe(false);
  });
});
