import { CALL_CONTEXT_TTL_MS, CallSigner, bodyHash } from './call-context';

describe('signed call contexts (services trust no caller)', () => {
  const key = 'k'.repeat(32);
  const gateway = new CallSigner(key, 'api-gateway');
  const call = { actor: 'token:1', tenantId: 't1', role: 'admin', correlationId: 'c1', method: 'POST', path: '/api/v1/tenants/t1/authority?x=1', bodyHash: bodyHash('{"authority":"intune"}') };
  const now = 1_800_000_000_000;

  it('a context the gateway signed is good for its very call, and names the caller as signed', () => {
    const token = gateway.sign(call, now);
    expect(gateway.verify(token, 'POST', call.path, now + 1000)).toEqual({
      ok: true,
      context: { service: 'api-gateway', ...call, expiresAt: now + CALL_CONTEXT_TTL_MS },
    });
  });

  it('no context, a changed payload, another key or a made-up token: refused with the reason', () => {
    const token = gateway.sign(call, now);
    const [v, payload, mac] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), actor: 'operator' })).toString('base64url');
    expect(gateway.verify(undefined, 'POST', call.path, now)).toEqual({ ok: false, reason: 'no signed call context (x-mdm-context)' });
    expect(gateway.verify(`${v}.${forged}.${mac}`, 'POST', call.path, now)).toEqual({ ok: false, reason: 'bad signature' });
    expect(new CallSigner('o'.repeat(32), 'api-gateway').verify(token, 'POST', call.path, now)).toEqual({ ok: false, reason: 'bad signature' });
    expect(gateway.verify('v1.e30', 'POST', call.path, now)).toEqual({ ok: false, reason: 'malformed call context' });
  });

  it('a context is refused once expired', () => {
    const token = gateway.sign(call, now);
    expect(gateway.verify(token, 'POST', call.path, now + CALL_CONTEXT_TTL_MS - 1).ok).toBe(true);
    expect(gateway.verify(token, 'POST', call.path, now + CALL_CONTEXT_TTL_MS)).toEqual({ ok: false, reason: 'expired call context' });
  });

  it('a captured context cannot be replayed on another method, path or query', () => {
    const token = gateway.sign(call, now);
    const another = { ok: false, reason: 'call context signed for another call' };
    expect(gateway.verify(token, 'DELETE', call.path, now)).toEqual(another);
    expect(gateway.verify(token, 'POST', '/api/v1/tenants/t2/authority?x=1', now)).toEqual(another);
    expect(gateway.verify(token, 'POST', '/api/v1/tenants/t1/authority?x=2', now)).toEqual(another);
  });
});
