import { ERROR_STATUS, EventRegistry } from '@mdm/contracts/core';
import { CommandHandler, CommandResult } from '@mdm/platform/event-store';
import { InMemoryEventStore, RacedEventStore, refusalOf } from '@mdm/platform/testing';
import { accessEvents } from './access.events';
import { TokenEvent, TokenHistoryEvent, TokenState, issueToken, revokeToken, toTokenEvent, tokenEvolver, tokenStreamId } from './token-lifecycle';

const tenantId = '6f1c1f5e-8c1a-4c53-9a7a-0d8f3a1b2c3d';
const otherTenantId = '0b7a3c2e-5d4f-4e1a-9c8b-7a6f5e4d3c2b';
const tokenId = '3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d';
const tokenHash = 'ab'.repeat(32);
const admin = 'token:1d0c9b8a-7f6e-4d5c-8b4a-3f2e1d0c9b8a';
const stream = tokenStreamId(tokenId);

/** The token commands as Tokens runs them, with the rows the lookup table would hold kept in a map. */
function tokenCommands(store: InMemoryEventStore) {
  const rows = new Map<string, TokenState>();
  const commands = new CommandHandler<TokenState, TokenHistoryEvent, TokenEvent>(store, store, {
    evolver: tokenEvolver,
    toEvent: toTokenEvent,
    transactional: true,
    project: async (_sql, _tenantId, { state }: CommandResult<TokenState, TokenEvent>) => void rows.set(state.tokenId, state),
  });
  const issue = (role: TokenState['role'] = 'helpdesk') =>
    commands.handle(stream, (state) => issueToken(state, { tokenId, tenantId, role, tokenHash }), { tenantId, actor: admin });
  const revoke = (ofTenant = tenantId) => commands.handle(stream, revokeToken, { tenantId: ofTenant, actor: admin });
  return { rows, issue, revoke };
}

describe('gateway tokens: issue and revoke through the platform CommandHandler (in memory)', () => {
  const registry = new EventRegistry(accessEvents);

  it('§4: a token is issued as TokenIssued with its hash only, kept inside the gateway (nothing published), and its row is live', async () => {
    const store = new InMemoryEventStore(registry);
    const { rows, issue } = tokenCommands(store);
    const { version } = await issue();
    const [issued] = await store.readStream(stream);
    expect([version, issued.type, issued.tenantId, issued.actor]).toEqual([1, 'TokenIssued', tenantId, admin]);
    expect(issued.data).toEqual({ tokenId, tenantId, role: 'helpdesk', tokenHash });
    expect(store.outbox).toEqual([]);
    expect(rows.get(tokenId)).toEqual({ exists: true, tokenId, tenantId, role: 'helpdesk', tokenHash, issuedAt: issued.recordedAt, revokedAt: null });
  });

  it('§4: a token id already issued is refused with 409 VERSION_CONFLICT and appends nothing', async () => {
    const store = new InMemoryEventStore(registry);
    const { issue } = tokenCommands(store);
    await issue();
    const err = await refusalOf(issue('admin'));
    expect([ERROR_STATUS[err.code], err.code]).toEqual([409, 'VERSION_CONFLICT']);
    expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['TokenIssued']);
  });

  it('§4: revoking appends TokenRevoked and revokes the row at the time it was recorded; revoking it again is 404', async () => {
    const store = new InMemoryEventStore(registry);
    const { rows, issue, revoke } = tokenCommands(store);
    await issue();
    const { version } = await revoke();
    const revoked = (await store.readStream(stream))[1];
    expect([version, revoked.type, revoked.data]).toEqual([2, 'TokenRevoked', { tokenId }]);
    expect(rows.get(tokenId)!.revokedAt).toBe(revoked.recordedAt);
    const again = await refusalOf(revoke());
    expect([ERROR_STATUS[again.code], again.code]).toEqual([404, 'NOT_FOUND']);
    expect((await store.readStream(stream)).length).toBe(2);
  });

  it('§4: a token of tenant A cannot be revoked by tenant B: 404, and A\'s token stays live', async () => {
    const store = new InMemoryEventStore(registry);
    const { rows, issue, revoke } = tokenCommands(store);
    await issue();
    const err = await refusalOf(revoke(otherTenantId));
    expect([ERROR_STATUS[err.code], err.code]).toEqual([404, 'NOT_FOUND']);
    expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['TokenIssued']);
    expect(rows.get(tokenId)!.revokedAt).toBeNull();
  });

  it('§4: of two revocations at once, the one that lost the race is decided again and answers 404', async () => {
    const store = new RacedEventStore(registry);
    const { issue, revoke } = tokenCommands(store);
    await issue();
    store.race(1, () => [{ type: 'TokenRevoked', data: { tokenId } }]);
    const err = await refusalOf(revoke());
    expect([ERROR_STATUS[err.code], err.code]).toEqual([404, 'NOT_FOUND']);
    // The rival's revocation went in without this handler: only the first attempt reached an append.
    expect(store.appends).toBe(1);
    expect((await store.readStream(stream)).map((e) => `${e.type}:${e.actor}`)).toEqual([`TokenIssued:${admin}`, 'TokenRevoked:user:other']);
  });
});
