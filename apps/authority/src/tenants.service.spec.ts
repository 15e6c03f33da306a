import { authorityEvents, tenantStreamId } from '@mdm/contracts/authority';
import { ERROR_STATUS, EventRegistry, Topics } from '@mdm/contracts/core';
import { createTenant, setAuthority } from '@mdm/authority/domain';
import { VersionConflictError } from '@mdm/platform/event-store';
import { InMemoryEventStore, InMemoryInbox, RacedEventStore, refusalOf } from '@mdm/platform/testing';
import { TenantsService } from './tenants.service';

const tenantId = '6f1c1f5e-8c1a-4c53-9a7a-0d8f3a1b2c3d';
const admin = 'user:admin';

/** What another writer appends when it wins a race: an AuthorityChanged to office365. */
const rivalChange = () => [{ type: 'AuthorityChanged', data: { from: 'unknown', to: 'office365' } }];

async function tenantWith(store: InMemoryEventStore) {
  const service = new TenantsService(store, store);
  await service.execute(tenantId, admin, (s) => createTenant(s, { tenantId, name: 'Contoso' }));
  return service;
}

describe('TenantsService: tenant commands through the platform CommandHandler (in memory)', () => {
  const registry = new EventRegistry(authorityEvents);

  it('R3: setting the same authority again appends nothing and publishes nothing', async () => {
    const store = new InMemoryEventStore(registry);
    const tenants = await tenantWith(store);
    await tenants.execute(tenantId, admin, (s, v) => setAuthority(s, v, { authority: 'intune' }));
    const again = await tenants.execute(tenantId, admin, (s, v) => setAuthority(s, v, { authority: 'intune' }));
    expect(again.version).toBe(2);
    expect(store.published(Topics.authorityEvents.topic).map((e) => e.type)).toEqual(['TenantCreated', 'AuthorityChanged']);
  });

  it('R3: setting the authority back to unknown is refused and changes nothing', async () => {
    const store = new InMemoryEventStore(registry);
    const tenants = await tenantWith(store);
    await tenants.execute(tenantId, admin, (s, v) => setAuthority(s, v, { authority: 'intune' }));
    const err = await refusalOf(tenants.execute(tenantId, admin, (s, v) => setAuthority(s, v, { authority: 'unknown' })));
    expect([ERROR_STATUS[err.code], err.code]).toEqual([422, 'AUTHORITY_CANNOT_REVERT_TO_UNKNOWN']);
    expect((await store.readStream(tenantStreamId(tenantId))).length).toBe(2);
  });

  it('R4: the change emits AuthorityChanged through the outbox, keyed by the tenant stream, with the stored version', async () => {
    const store = new InMemoryEventStore(registry);
    const tenants = await tenantWith(store);
    const after = await tenants.execute(tenantId, admin, (s, v) => setAuthority(s, v, { authority: 'intune' }));
    const message = store.outbox.at(-1)!;
    expect([message.topic, message.key, message.envelope.streamVersion]).toEqual([Topics.authorityEvents.topic, tenantStreamId(tenantId), 2]);
    expect(message.envelope.data).toEqual({ from: 'unknown', to: 'intune' });
    expect([after.state.authority, after.state.changedAt]).toEqual(['intune', message.envelope.occurredAt]);
  });

  it('R4: a consumer of the outbox applies each AuthorityChanged once, redeliveries included', async () => {
    const store = new InMemoryEventStore(registry);
    const tenants = await tenantWith(store);
    const applied: string[] = [];
    const inbox = new InMemoryInbox(store, async (e) => void applied.push(`${e.type}@${e.streamVersion}`));
    await tenants.execute(tenantId, admin, (s, v) => setAuthority(s, v, { authority: 'intune' }));
    expect(await inbox.drain()).toBe(2);
    expect(await inbox.deliver(store.published(Topics.authorityEvents.topic))).toBe(0);
    await tenants.execute(tenantId, admin, (s, v) => setAuthority(s, v, { authority: 'coexistence' }));
    expect(await inbox.drain()).toBe(1);
    expect(applied).toEqual(['TenantCreated@1', 'AuthorityChanged@2', 'AuthorityChanged@3']);
  });

  it('a command that lost a race is decided again on the fresh state', async () => {
    const store = new RacedEventStore(registry);
    const tenants = await tenantWith(store);
    store.race(1, rivalChange);
    const after = await tenants.execute(tenantId, admin, (s, v) => setAuthority(s, v, { authority: 'intune' }));
    expect(store.appends).toBe(2);
    expect([after.state.authority, after.version]).toEqual(['intune', 3]);
    const stream = await store.readStream(tenantStreamId(tenantId));
    expect(stream.map((e) => e.data)).toEqual([{ tenantId, name: 'Contoso' }, { from: 'unknown', to: 'office365' }, { from: 'office365', to: 'intune' }]);
  });

  it('a command pinned to an expectedVersion that lost the race gets 409 VERSION_CONFLICT, never an overwrite', async () => {
    const store = new RacedEventStore(registry);
    const tenants = await tenantWith(store);
    store.race(1, rivalChange);
    const err = await refusalOf(tenants.execute(tenantId, admin, (s, v) => setAuthority(s, v, { authority: 'intune', expectedVersion: 1 })));
    expect([ERROR_STATUS[err.code], err.code, err.details]).toEqual([409, 'VERSION_CONFLICT', { expectedVersion: 1, actualVersion: 2 }]);
    expect((await store.readStream(tenantStreamId(tenantId))).map((e) => e.actor)).toEqual([admin, 'user:other']);
  });

  it('retries are bounded: a stream that keeps moving answers 409 after three decisions', async () => {
    const store = new RacedEventStore(registry);
    const tenants = await tenantWith(store);
    store.race(10, rivalChange);
    let decisions = 0;
    const err = await tenants
      .execute(tenantId, admin, (s, v) => {
        decisions++;
        return setAuthority(s, v, { authority: s.authority === 'office365' ? 'intune' : 'office365' });
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VersionConflictError);
    expect([decisions, store.appends]).toEqual([3, 3]);
  });
});
