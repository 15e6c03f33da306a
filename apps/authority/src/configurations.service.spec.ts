import { authorityEvents, configurationStreamId } from '@mdm/contracts/authority';
import { ERROR_STATUS, EventEnvelope, EventRegistry, Topics } from '@mdm/contracts/core';
import { ConfigurationContent, createTenant } from '@mdm/authority/domain';
import { InMemoryEventStore, RacedEventStore, refusalOf } from '@mdm/platform/testing';
import { ConfigurationsService } from './configurations.service';
import { TenantsService } from './tenants.service';

const tenantId = '6f1c1f5e-8c1a-4c53-9a7a-0d8f3a1b2c3d';
const otherTenantId = '0b7a3c2e-5d4f-4e1a-9c8b-7a6f5e4d3c2b';
const groupId = '3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d';
const admin = 'user:admin';
const wifi: ConfigurationContent = { name: 'Office Wi-Fi', type: 'wifi', platforms: ['ios', 'android'], settings: { ssid: 'contoso' }, assignedGroupIds: [groupId] };
const renamed: ConfigurationContent = { ...wifi, name: 'Head office Wi-Fi' };

async function configurationsOf(store: InMemoryEventStore) {
  const tenants = new TenantsService(store, store);
  await tenants.execute(tenantId, admin, (s) => createTenant(s, { tenantId, name: 'Contoso' }));
  return new ConfigurationsService(store, store, tenants);
}

const published = (store: InMemoryEventStore) => store.published(Topics.authorityEvents.topic).map((e) => `${e.type}@${e.streamVersion}`);

/** Another writer's rename, at the configuration's next version. */
const rivalRename = (stream: EventEnvelope[]) => [
  { type: 'ConfigurationUpdated', data: { ...(stream[0].data as object), name: 'Renamed elsewhere', version: stream.length + 1 } },
];

describe('ConfigurationsService: configuration commands through the platform CommandHandler (in memory)', () => {
  const registry = new EventRegistry(authorityEvents);

  it('R7: a new configuration belongs to its authority, with its content, on a stream of its own published through the outbox', async () => {
    const store = new InMemoryEventStore(registry);
    const configurations = await configurationsOf(store);
    const created = await configurations.create(tenantId, 'intune', wifi, admin);
    const message = store.outbox.at(-1)!;
    expect([message.topic, message.key, message.envelope.type, message.envelope.streamVersion]).toEqual([
      Topics.authorityEvents.topic,
      configurationStreamId(created.configurationId),
      'ConfigurationCreated',
      1,
    ]);
    expect(message.envelope.data).toEqual({ configurationId: created.configurationId, authority: 'intune', ...wifi, version: 1 });
    expect(await configurations.load(tenantId, configurationStreamId(created.configurationId))).toEqual({
      ...wifi,
      configurationId: created.configurationId,
      authority: 'intune',
      version: 1,
      exists: true,
      deleted: false,
    });
  });

  it('R7: a configuration of a tenant that does not exist is refused with 404 and nothing is appended', async () => {
    const store = new InMemoryEventStore(registry);
    const configurations = await configurationsOf(store);
    const err = await refusalOf(configurations.create(otherTenantId, 'intune', wifi, admin));
    expect([ERROR_STATUS[err.code], err.code]).toEqual([404, 'NOT_FOUND']);
    expect(published(store)).toEqual(['TenantCreated@1']);
  });

  it('R7: a configuration is reached through its own authority and tenant only: any other is a 404 that changes nothing', async () => {
    const store = new InMemoryEventStore(registry);
    const configurations = await configurationsOf(store);
    const { configurationId } = await configurations.create(tenantId, 'intune', wifi, admin);
    const throughOffice = await refusalOf(configurations.update(tenantId, configurationId, { authority: 'office365', content: renamed }, admin));
    const ofOtherTenant = await refusalOf(configurations.remove(otherTenantId, configurationId, 'intune', admin));
    expect([throughOffice.code, ofOtherTenant.code]).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect(published(store)).toEqual(['TenantCreated@1', 'ConfigurationCreated@1']);
  });

  it('R7: an update carries the next version; one with a stale expectedVersion gets 409 VERSION_CONFLICT', async () => {
    const store = new InMemoryEventStore(registry);
    const configurations = await configurationsOf(store);
    const { configurationId } = await configurations.create(tenantId, 'intune', wifi, admin);
    const updated = await configurations.update(tenantId, configurationId, { authority: 'intune', content: renamed, expectedVersion: 1 }, admin);
    expect([updated.name, updated.version]).toEqual(['Head office Wi-Fi', 2]);
    const err = await refusalOf(configurations.update(tenantId, configurationId, { authority: 'intune', content: wifi, expectedVersion: 1 }, admin));
    expect([ERROR_STATUS[err.code], err.code, err.details]).toEqual([409, 'VERSION_CONFLICT', { expectedVersion: 1, actualVersion: 2 }]);
    expect(published(store)).toEqual(['TenantCreated@1', 'ConfigurationCreated@1', 'ConfigurationUpdated@2']);
  });

  it('R7: a deleted configuration is gone: deleting or updating it again is a 404', async () => {
    const store = new InMemoryEventStore(registry);
    const configurations = await configurationsOf(store);
    const { configurationId } = await configurations.create(tenantId, 'intune', wifi, admin);
    const deleted = await configurations.remove(tenantId, configurationId, 'intune', admin);
    expect([deleted.deleted, deleted.version]).toEqual([true, 2]);
    expect(store.outbox.at(-1)!.envelope.data).toEqual({ configurationId, authority: 'intune', version: 2 });
    expect((await refusalOf(configurations.remove(tenantId, configurationId, 'intune', admin))).code).toBe('NOT_FOUND');
    expect((await refusalOf(configurations.update(tenantId, configurationId, { authority: 'intune', content: wifi }, admin))).code).toBe('NOT_FOUND');
    expect(published(store)).toEqual(['TenantCreated@1', 'ConfigurationCreated@1', 'ConfigurationDeleted@2']);
  });

  it('R7: an update that lost a race is decided again on the fresh configuration', async () => {
    const store = new RacedEventStore(registry);
    const configurations = await configurationsOf(store);
    const { configurationId } = await configurations.create(tenantId, 'intune', wifi, admin);
    store.race(1, rivalRename);
    const updated = await configurations.update(tenantId, configurationId, { authority: 'intune', content: renamed }, admin);
    expect(store.appends).toBe(2);
    expect([updated.name, updated.version]).toEqual(['Head office Wi-Fi', 3]);
    const stream = await store.readStream(configurationStreamId(configurationId));
    expect(stream.map((e) => [e.actor, (e.data as { name: string }).name])).toEqual([
      [admin, 'Office Wi-Fi'],
      ['user:other', 'Renamed elsewhere'],
      [admin, 'Head office Wi-Fi'],
    ]);
  });

  it('R7: an update pinned to the version another writer just moved past gets 409 VERSION_CONFLICT, never an overwrite', async () => {
    const store = new RacedEventStore(registry);
    const configurations = await configurationsOf(store);
    const { configurationId } = await configurations.create(tenantId, 'intune', wifi, admin);
    store.race(1, rivalRename);
    const err = await refusalOf(configurations.update(tenantId, configurationId, { authority: 'intune', content: renamed, expectedVersion: 1 }, admin));
    expect([ERROR_STATUS[err.code], err.code, err.details]).toEqual([409, 'VERSION_CONFLICT', { expectedVersion: 1, actualVersion: 2 }]);
    // The decision taken again on the fresh stream refused before a second append.
    expect(store.appends).toBe(1);
    expect((await store.readStream(configurationStreamId(configurationId))).map((e) => e.actor)).toEqual([admin, 'user:other']);
  });
});
