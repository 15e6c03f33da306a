import { randomUUID } from 'node:crypto';
import { TestStack } from './support/stack';
import { TestTenant, createTenant, tokenFor, useStackWithTenant } from './support/tenant';

/** The state of a tenant that bad input must leave untouched. */
async function snapshot(tenant: TestTenant) {
  const res = await tenant.admin.get(tenant.path('/authority'));
  return res.body;
}

describe('gateway: tokens, roles, tenant isolation, errors, audit, clock', () => {
  const ctx = useStackWithTenant({ testClock: true });
  let stack: TestStack;
  let tenant: TestTenant;
  beforeEach(() => ({ stack, tenant } = ctx));

  describe('security (DESIGN.md §4)', () => {
    it('creating a tenant needs the operator token; a tenant token gets 403, none gets 401', async () => {
      expect((await stack.anonymous.post('/api/v1/tenants', { name: 'x' })).status).toBe(401);
      const asAdmin = await tenant.admin.post('/api/v1/tenants', { name: 'x' });
      expect(asAdmin.status).toBe(403);
      expect(asAdmin.body.code).toBe('FORBIDDEN');
      expect((await stack.client('mdm_not-a-real-token').get(tenant.path('/authority'))).body.code).toBe('UNAUTHORIZED');
    });

    it('tokens are random, shown once and stored only as a hash', async () => {
      const res = await tenant.admin.post(tenant.path('/tokens'), { role: 'reader' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ tokenId: expect.any(String), token: expect.stringMatching(/^mdm_[A-Za-z0-9_-]{43}$/), role: 'reader' });
      const db = stack.gateway.runtime.db;
      const stored = JSON.stringify(await db.query('select * from access_tokens'));
      const events = JSON.stringify(await db.query('select data from es_events'));
      expect(stored).not.toContain(res.body.token);
      expect(events).not.toContain(res.body.token);
    });

    it('a token of tenant A sees nothing of tenant B: 404, not 403', async () => {
      const other = await createTenant(stack, 'Fabrikam');
      for (const call of [
        () => tenant.admin.get(other.path('/authority')),
        () => tenant.admin.put(other.path('/authority'), { authority: 'intune' }),
        () => tenant.admin.post(other.path('/tokens'), { role: 'admin' }),
        () => tenant.admin.get(other.path('/audit')),
      ]) {
        const res = await call();
        expect(res.status).toBe(404);
        expect(res.body.code).toBe('NOT_FOUND');
      }
      expect((await snapshot(other)).authority).toBe('unknown');
      // Tenant B's audit log shows nothing of the probes.
      const audit = await other.admin.get(other.path('/audit'));
      expect(audit.body.items.map((i: { action: string }) => i.action)).toEqual(['createTenant']);
    });

    it('roles: reader and helpdesk read, only admin commands, enroller cannot read', async () => {
      const reader = await tokenFor(stack, tenant, 'reader');
      const helpdesk = await tokenFor(stack, tenant, 'helpdesk');
      const enroller = await tokenFor(stack, tenant, 'enroller');
      expect((await reader.get(tenant.path('/authority'))).status).toBe(200);
      expect((await helpdesk.get(tenant.path('/authority'))).status).toBe(200);
      const readAsEnroller = await enroller.get(tenant.path('/authority'));
      expect(readAsEnroller.status).toBe(403);
      for (const client of [reader, helpdesk, enroller]) {
        const res = await client.put(tenant.path('/authority'), { authority: 'intune' });
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('FORBIDDEN');
      }
      expect((await snapshot(tenant)).authority).toBe('unknown');
    });

    it('a revoked token stops working at once; revoking it again is 404', async () => {
      const created = await tenant.admin.post(tenant.path('/tokens'), { role: 'admin' });
      const second = stack.client(created.body.token);
      expect((await second.get(tenant.path('/authority'))).status).toBe(200);
      expect((await tenant.admin.delete(tenant.path(`/tokens/${created.body.tokenId}`))).status).toBe(204);
      expect((await second.get(tenant.path('/authority'))).status).toBe(401);
      expect((await tenant.admin.delete(tenant.path(`/tokens/${created.body.tokenId}`))).status).toBe(404);
    });
  });

  describe('bad input gets a 4xx with a stable code and changes nothing (API.md)', () => {
    const cases: [string, string, string, unknown, number, string][] = [
      ['malformed JSON', 'PUT', '/authority', '{"authority": ', 400, 'VALIDATION_FAILED'],
      ['unknown field', 'PUT', '/authority', { authority: 'intune', colour: 'blue' }, 400, 'VALIDATION_FAILED'],
      ['wrong type', 'PUT', '/authority', { authority: 42 }, 400, 'VALIDATION_FAILED'],
      ['value outside the enum', 'PUT', '/authority', { authority: 'jamf' }, 400, 'VALIDATION_FAILED'],
      ['missing field', 'PUT', '/authority', {}, 400, 'VALIDATION_FAILED'],
      ['negative expectedVersion', 'PUT', '/authority', { authority: 'intune', expectedVersion: -1 }, 400, 'VALIDATION_FAILED'],
      ['a JSON array body', 'PUT', '/authority', [], 400, 'VALIDATION_FAILED'],
      ['co-management without booleans', 'PUT', '/co-management', { enabled: 'yes', autoEnrollment: true }, 400, 'VALIDATION_FAILED'],
      ['unknown workload', 'PUT', '/co-management', { enabled: false, autoEnrollment: false, workloads: { printers: 'intune' } }, 400, 'VALIDATION_FAILED'],
      ['unknown consent', 'POST', '/consents', { kind: 'samsungKnox' }, 400, 'VALIDATION_FAILED'],
      ['certificate not a string', 'PUT', '/authorities/intune/apns-certificate', { certificatePem: 7 }, 400, 'VALIDATION_FAILED'],
      ['unknown authority in the path', 'PUT', '/authorities/jamf/apns-certificate', { certificatePem: 'x' }, 404, 'NOT_FOUND'],
      ['configuration without platforms', 'POST', '/authorities/intune/configurations', { name: 'x', type: 'vpn', platforms: [], settings: {}, assignedGroupIds: [] }, 400, 'VALIDATION_FAILED'],
      ['configuration with a bad group id', 'POST', '/authorities/intune/configurations', { name: 'x', type: 'vpn', platforms: ['ios'], settings: {}, assignedGroupIds: ['g1'] }, 400, 'VALIDATION_FAILED'],
      ['configuration of an unknown type', 'POST', '/authorities/intune/configurations', { name: 'x', type: 'printer', platforms: ['ios'], settings: {}, assignedGroupIds: [] }, 400, 'VALIDATION_FAILED'],
      ['configuration id not a uuid', 'GET', '/authorities/intune/configurations/abc', undefined, 404, 'NOT_FOUND'],
      ['unknown configuration', 'PUT', `/authorities/intune/configurations/${randomUUID()}`, { name: 'x', type: 'vpn', platforms: ['ios'], settings: {}, assignedGroupIds: [] }, 404, 'NOT_FOUND'],
      ['unknown path', 'GET', '/printers', undefined, 404, 'NOT_FOUND'],
      ['token role outside the enum', 'POST', '/tokens', { role: 'owner' }, 400, 'VALIDATION_FAILED'],
      ['token id not a uuid', 'DELETE', '/tokens/abc', undefined, 404, 'NOT_FOUND'],
      ['audit limit above 500', 'GET', '/audit?limit=501', undefined, 400, 'VALIDATION_FAILED'],
      ['audit cursor garbage', 'GET', '/audit?cursor=abc', undefined, 400, 'VALIDATION_FAILED'],
    ];

    it.each(cases.map(([name, method, suffix, body, status, code]) => ({ name, method, suffix, body, status, code })))(
      '$name: $method $suffix → $status $code',
      async ({ method, suffix, body, status, code }) => {
      const before = await snapshot(tenant);
      const res =
        typeof body === 'string'
          ? await tenant.admin.raw(method, tenant.path(suffix), body)
          : await tenant.admin.call(method, tenant.path(suffix), body);
      expect(res.status).toBe(status);
      expect(res.body.code).toBe(code);
      expect(typeof res.body.message).toBe('string');
      expect(await snapshot(tenant)).toEqual(before);
      },
    );

    it('field errors name their paths in details', async () => {
      const res = await tenant.admin.put(tenant.path('/authority'), { authority: 'jamf', colour: 'blue' });
      expect(res.body.details.fields.map((f: { path: string }) => f.path).sort()).toEqual(['body', 'body.authority']);
    });

    it('a body over 1 MiB is 413 PAYLOAD_TOO_LARGE', async () => {
      const before = await snapshot(tenant);
      const huge = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10), type: 'vpn', platforms: ['ios'], settings: {}, assignedGroupIds: [] });
      const res = await tenant.admin.raw('POST', tenant.path('/authorities/intune/configurations'), huge);
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
      expect(await snapshot(tenant)).toEqual(before);
    });

    it('an unknown tenant id is 404 for the operator path too, and a tenant name is required', async () => {
      expect((await stack.operator.post('/api/v1/tenants', { name: '' })).status).toBe(400);
      expect((await stack.operator.post('/api/v1/tenants', {})).body.code).toBe('VALIDATION_FAILED');
      expect((await tenant.admin.get(`/api/v1/tenants/${randomUUID()}/authority`)).status).toBe(404);
    });
  });

  it('the audit log records every admin command with actor, time, action, target and outcome, newest first, paged', async () => {
    await tenant.admin.put(tenant.path('/authority'), { authority: 'intune' });
    await tenant.admin.put(tenant.path('/authority'), { authority: 'unknown' });
    const reader = await tokenFor(stack, tenant, 'reader');
    await reader.put(tenant.path('/authority'), { authority: 'office365' });

    const first = await tenant.admin.get(tenant.path('/audit?limit=2'));
    expect(first.status).toBe(200);
    expect(first.body.items).toEqual([
      { at: expect.any(String), actor: expect.stringMatching(/^token:/), action: 'setAuthority', target: tenant.path('/authority'), outcome: 'failure:FORBIDDEN' },
      { at: expect.any(String), actor: expect.stringMatching(/^token:/), action: 'createToken', target: tenant.path('/tokens'), outcome: 'success' },
    ]);
    const rest = await tenant.admin.get(tenant.path(`/audit?limit=10&cursor=${first.body.nextCursor}`));
    expect(rest.body.items.map((i: { action: string; outcome: string }) => `${i.action} ${i.outcome}`)).toEqual([
      'setAuthority failure:AUTHORITY_CANNOT_REVERT_TO_UNKNOWN',
      'setAuthority success',
      'createTenant success',
    ]);
    expect(rest.body.nextCursor).toBeNull();
  });

  it('the system clock: anyone reads it, only the operator advances it, and every service sees the new time', async () => {
    const { body: before } = await stack.anonymous.get('/api/v1/system/clock');
    expect((await tenant.admin.post('/api/v1/system/clock/advance', { seconds: 60 })).status).toBe(403);
    expect((await stack.operator.post('/api/v1/system/clock/advance', { seconds: -5 })).status).toBe(400);
    const advanced = await stack.operator.post('/api/v1/system/clock/advance', { seconds: 8 * 3600 });
    expect(advanced.status).toBe(200);
    expect(Date.parse(advanced.body.now) - Date.parse(before.now)).toBe(8 * 3600 * 1000);
    expect(stack.authority.runtime.clock.now().toISOString()).toBe(advanced.body.now);
    // Events are stamped with the shared clock.
    await tenant.admin.put(tenant.path('/authority'), { authority: 'intune' });
    expect((await snapshot(tenant)).changedAt).toBe(advanced.body.now);
  });

  it('serves an OpenAPI document listing every call of the contract', async () => {
    const res = await stack.anonymous.get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const paths = Object.keys(res.body.paths);
    for (const p of [
      '/api/v1/tenants',
      '/api/v1/tenants/{tenantId}/tokens',
      '/api/v1/tenants/{tenantId}/tokens/{tokenId}',
      '/api/v1/tenants/{tenantId}/authority',
      '/api/v1/tenants/{tenantId}/co-management',
      '/api/v1/tenants/{tenantId}/consents',
      '/api/v1/tenants/{tenantId}/authorities/{authority}/apns-certificate',
      '/api/v1/tenants/{tenantId}/authorities/{authority}/configurations',
      '/api/v1/tenants/{tenantId}/authorities/{authority}/configurations/{configurationId}',
      '/api/v1/tenants/{tenantId}/audit',
      '/api/v1/system/clock',
      '/api/v1/system/clock/advance',
    ]) {
      expect(paths).toContain(p);
    }
    expect(res.body.paths['/api/v1/tenants/{tenantId}/authority'].put.requestBody).toBeDefined();
  });

  it('every service answers /health and /metrics', async () => {
    for (const service of [stack.gateway, stack.authority]) {
      const health = await fetch(`${service.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', checks: { postgres: 'ok', kafka: 'ok', consumerLag: 0 } });
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      expect(metrics).toContain('http_request_duration_seconds');
      expect(metrics).toContain('outbox_pending');
    }
  });
});
