import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { CALL_CONTEXT_TTL_MS, CallSigner, bodyHash, signedContextHeader } from '@mdm/platform/http-client';
import { TEST_SIGNING_KEY, WORKSPACE_ROOT } from '@mdm/platform/testing';
import { ApiClient } from './support/api-client';
import { DeviceClient } from './support/device-client';
import { TestStack } from './support/stack';
import { TestTenant, useStackWithTenant } from './support/tenant';

/** The headers of a call signed by `service` with the stack's key (as that service would sign it), for a JSON `body`. */
function signedBy(service: string, method: string, url: string, opts: { actor?: string; tenantId?: string; body?: unknown; key?: string } = {}) {
  const { body, key = TEST_SIGNING_KEY, ...context } = opts;
  return signedContextHeader(new CallSigner(key, service), method, new URL(url), context, body === undefined ? undefined : JSON.stringify(body));
}

const unauthenticated = (reason: string) => ({
  status: 401,
  body: { code: 'UNAUTHENTICATED', message: `calls to this service need the gateway's signed context: ${reason}` },
});

describe("services trust no one (DESIGN.md §4): only the gateway's signed context opens a service", () => {
  const ctx = useStackWithTenant();
  let stack: TestStack;
  let tenant: TestTenant;
  beforeEach(() => ({ stack, tenant } = ctx));

  const direct = (url: string) => new ApiClient(url);
  const answer = async (res: Promise<{ status: number; body: unknown }>) => {
    const { status, body } = await res;
    return { status, body };
  };

  /** A device enrolled through the gateway, and its credential. */
  async function enrolledDevice() {
    await tenant.admin.put(tenant.path('/authority'), { authority: 'intune' });
    const enrolled = await tenant.admin.post(tenant.path('/enrollments'), { platform: 'windows', enrollmentType: 'bulk', serialNumber: `SN-${randomUUID()}`, osVersion: '10' });
    expect(enrolled.status).toBe(201);
    return enrolled.body as { deviceId: string; deviceCredential: string };
  }

  it('a direct call to any service port from localhost, with the old x-actor / x-tenant-id headers and no signature, is 401 UNAUTHENTICATED', async () => {
    const asIfRelayed = { 'x-actor': 'operator', 'x-tenant-id': tenant.tenantId };
    const calls: [string, string, string, unknown?][] = [
      [stack.authority.url, 'GET', tenant.path('/authority')],
      [stack.authority.url, 'PUT', tenant.path('/authority'), { authority: 'intune' }],
      [stack.licensing.url, 'GET', tenant.path('/groups')],
      [stack.enrollment.url, 'POST', tenant.path('/enrollments'), { platform: 'windows', enrollmentType: 'bulk', serialNumber: 'SN-1', osVersion: '10' }],
      [stack.deviceSync.url, 'GET', tenant.path(`/devices/${randomUUID()}/actions/${randomUUID()}`)],
      [stack.projection.url, 'GET', tenant.path('/overview')],
    ];
    for (const [url, method, route, body] of calls) {
      expect(await answer(direct(url).call(method, route, body, asIfRelayed))).toEqual(unauthenticated('no signed call context (x-mdm-context)'));
    }
    // Nothing changed behind the refusals.
    expect((await tenant.admin.get(tenant.path('/authority'))).body.authority).toBe('unknown');
  });

  it("the device API at device-sync's port refuses a valid device credential without the gateway's signature; through the gateway it works", async () => {
    const { deviceCredential } = await enrolledDevice();
    const state = { osVersion: '10', encrypted: true, jailbroken: false, passcodeSet: true };
    expect(await answer(new DeviceClient(stack.deviceSync.url, deviceCredential).checkIn(state))).toEqual(unauthenticated('no signed call context (x-mdm-context)'));
    expect((await new DeviceClient(stack.gateway.url, deviceCredential).checkIn(state)).status).toBe(200);
  });

  it('/health and /metrics stay open on every service', async () => {
    for (const service of [stack.authority, stack.licensing, stack.enrollment, stack.deviceSync, stack.projection]) {
      expect((await fetch(`${service.url}/health`)).status).toBe(200);
      expect((await fetch(`${service.url}/metrics`)).status).toBe(200);
    }
  });

  it('a tampered, expired, wrong-key or wrong-call signature is 401; the same call correctly signed answers', async () => {
    const url = `${stack.authority.url}${tenant.path('/authority')}`;
    const get = (headers: Record<string, string>) => answer(direct(stack.authority.url).call('GET', tenant.path('/authority'), undefined, headers));
    const good = signedBy('api-gateway', 'GET', url, { actor: 'token:x', tenantId: tenant.tenantId });
    expect((await get(good)).status).toBe(200);

    const [v, payload, mac] = good['x-mdm-context'].split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const raised = Buffer.from(JSON.stringify({ ...claims, actor: 'operator' })).toString('base64url');
    expect(await get({ 'x-mdm-context': `${v}.${raised}.${mac}` })).toEqual(unauthenticated('bad signature'));
    expect(await get(signedBy('api-gateway', 'GET', url, { key: 'x'.repeat(43) }))).toEqual(unauthenticated('bad signature'));

    const expired = new CallSigner(TEST_SIGNING_KEY, 'api-gateway').sign(
      { actor: 'token:x', correlationId: 'c', method: 'GET', path: tenant.path('/authority'), bodyHash: bodyHash() },
      Date.now() - CALL_CONTEXT_TTL_MS - 1,
    );
    expect(await get({ 'x-mdm-context': expired })).toEqual(unauthenticated('expired call context'));

    // Captured on one call, replayed on another: another tenant's path, another method.
    const other = signedBy('api-gateway', 'GET', `${stack.authority.url}/api/v1/tenants/${randomUUID()}/authority`);
    expect(await get(other)).toEqual(unauthenticated('call context signed for another call'));
    const put = answer(direct(stack.authority.url).call('PUT', tenant.path('/authority'), { authority: 'intune' }, good));
    expect(await put).toEqual(unauthenticated('call context signed for another call'));

    // Captured on a command, replayed on the same path with another body.
    const signedPut = signedBy('api-gateway', 'PUT', url, { actor: 'token:x', body: { authority: 'intune' } });
    const otherBody = answer(direct(stack.authority.url).call('PUT', tenant.path('/authority'), { authority: 'office365' }, signedPut));
    expect(await otherBody).toEqual(unauthenticated('call context signed for another body'));
    expect((await tenant.admin.get(tenant.path('/authority'))).body.authority).toBe('unknown');
  });

  it('the actor a service records is the signed one: an x-actor header next to it is ignored', async () => {
    const route = tenant.path('/authority');
    const headers = { ...signedBy('api-gateway', 'PUT', `${stack.authority.url}${route}`, { actor: 'token:signed', body: { authority: 'intune' } }), 'x-actor': 'operator' };
    expect((await direct(stack.authority.url).call('PUT', route, { authority: 'intune' }, headers)).status).toBe(200);
    const rows = await stack.authority.runtime.db.query<{ actor: string }>(
      `select actor from es_events where tenant_id = $1 and type = 'AuthorityChanged'`,
      [tenant.tenantId],
    );
    expect(rows).toEqual([{ actor: 'token:signed' }]);
  });

  it("the public API takes only the gateway's contexts: another service's signature is 403", async () => {
    const route = tenant.path('/authority');
    const res = await direct(stack.authority.url).call('GET', route, undefined, signedBy('device-sync', 'GET', `${stack.authority.url}${route}`));
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('certificate issuance at enrollment answers device-sync alone: unsigned 401, the gateway or another service 403', async () => {
    const { deviceId } = await enrolledDevice();
    const route = `/internal/tenants/${tenant.tenantId}/devices/${deviceId}/certificates`;
    const url = `${stack.enrollment.url}${route}`;
    const body = { notBefore: new Date().toISOString() };
    const issue = (headers: Record<string, string>) => answer(direct(stack.enrollment.url).call('POST', route, body, headers));
    expect(await issue({})).toEqual(unauthenticated('no signed call context (x-mdm-context)'));
    for (const service of ['api-gateway', 'licensing', 'projection']) {
      expect(await issue(signedBy(service, 'POST', url, { body }))).toEqual({
        status: 403,
        body: { code: 'FORBIDDEN', message: `${service} may not call this endpoint`, details: { allowed: ['device-sync'] } },
      });
    }
    const issued = await issue(signedBy('device-sync', 'POST', url, { body }));
    expect(issued).toEqual({ status: 201, body: { serial: expect.any(String), notBefore: body.notBefore, notAfter: expect.any(String), pem: expect.stringContaining('BEGIN CERTIFICATE') } });
  });

  it('published versions answer only the services whose read-your-writes ask them; the clock hook and tenant registration only the gateway', async () => {
    const versions = (service: string, owner = stack.authority) => {
      const route = '/internal/published-versions';
      const body = { queries: [{ tenantId: tenant.tenantId, prefixes: ['tenant-'] }] };
      return answer(direct(owner.url).call('POST', route, body, signedBy(service, 'POST', `${owner.url}${route}`, { body })));
    };
    for (const reader of ['licensing', 'enrollment', 'device-sync']) expect((await versions(reader)).status).toBe(200);
    for (const stranger of ['projection', 'api-gateway']) expect((await versions(stranger)).status).toBe(403);
    for (const reader of ['enrollment', 'device-sync']) expect((await versions(reader, stack.licensing)).status).toBe(200);
    expect((await versions('projection', stack.licensing)).status).toBe(403);
    expect((await versions('device-sync', stack.enrollment)).status).toBe(200);
    expect((await versions('licensing', stack.enrollment)).status).toBe(403);
    expect((await versions('licensing', stack.projection)).status).toBe(403);

    // The views' freshness asks every owner how long its outbox has waited (R29); no one else may.
    const outbox = (service: string, owner: { url: string }) =>
      answer(direct(owner.url).call('GET', '/internal/outbox', undefined, signedBy(service, 'GET', `${owner.url}/internal/outbox`)));
    expect(await outbox('projection', stack.authority)).toEqual({ status: 200, body: { pending: expect.any(Object) } });
    expect((await outbox('licensing', stack.authority)).status).toBe(403);

    const sync = (service: string, owner = stack.deviceSync) =>
      direct(owner.url).call('POST', '/internal/clock/sync', {}, signedBy(service, 'POST', `${owner.url}/internal/clock/sync`, { body: {} }));
    expect((await sync('enrollment')).status).toBe(403);
    expect((await sync('api-gateway')).status).toBe(200);
    // The gateway is the edge: its public API is open to clients, its internal endpoints are not.
    expect(await answer(direct(stack.gateway.url).post('/internal/clock/sync', {}))).toEqual(unauthenticated('no signed call context (x-mdm-context)'));
    expect(await answer(direct(stack.gateway.url).post('/INTERNAL/clock/sync', {}))).toEqual(unauthenticated('no signed call context (x-mdm-context)'));

    const register = (service: string) => {
      const rogue = { tenantId: randomUUID(), name: 'Rogue' };
      return direct(stack.authority.url).call('POST', '/internal/tenants', rogue, signedBy(service, 'POST', `${stack.authority.url}/internal/tenants`, { body: rogue }));
    };
    expect((await register('licensing')).status).toBe(403);
  });
});

describe('secrets: production refuses to start without them, and never shows them', () => {
  /** A service's own main.ts, as `npm start` and the containers run it, in production. */
  function startInProduction(app: string, env: Record<string, string>) {
    return spawnSync(process.execPath, ['-r', path.join(WORKSPACE_ROOT, 'tools/register.js'), `apps/${app}/src/main.ts`], {
      cwd: WORKSPACE_ROOT,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', LOG_LEVEL: 'silent', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  it('the gateway without an operator token and with a short signing key exits 1, naming both and showing neither', () => {
    const run = startInProduction('api-gateway', { MDM_GATEWAY_SIGNING_KEY: 'short-secret-value' });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      'api-gateway: invalid configuration\n' +
        '  - MDM_GATEWAY_SIGNING_KEY: at least 32 characters\n' +
        '  - MDM_OPERATOR_TOKEN: required when NODE_ENV=production (or MDM_OPERATOR_TOKEN_FILE)\n',
    );
  });

  it('a service without the signing key exits 1', () => {
    const run = startInProduction('enrollment', {});
    expect([run.status, run.stderr]).toEqual([
      1,
      'enrollment: invalid configuration\n  - MDM_GATEWAY_SIGNING_KEY: required when NODE_ENV=production (or MDM_GATEWAY_SIGNING_KEY_FILE)\n',
    ]);
  });
});
