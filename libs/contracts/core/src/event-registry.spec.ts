import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { defineEvent, isEvent } from './event-definition';
import { EventContractError, EventRegistry } from './event-registry';

const V2 = defineEvent({
  type: 'DeviceNamed',
  schemaVersion: 2,
  data: z.object({ displayName: z.string() }).strict(),
  upcasters: { 1: (d) => ({ displayName: (d as { name: string }).name }) },
});

const envelope = (schemaVersion: number, data: unknown) => ({
  eventId: randomUUID(),
  type: 'DeviceNamed',
  schemaVersion,
  streamId: 'device-1',
  streamVersion: 1,
  tenantId: randomUUID(),
  occurredAt: '2026-01-01T00:00:00.000Z',
  recordedAt: '2026-01-01T00:00:00.000Z',
  actor: 'system',
  correlationId: 'c',
  causationId: null,
  data,
});

describe('event contracts', () => {
  const registry = new EventRegistry([V2]);

  it('validates payloads when produced', () => {
    expect(registry.validateForWrite('DeviceNamed', { displayName: 'Kiosk' })).toEqual({ displayName: 'Kiosk' });
    expect(() => registry.validateForWrite('DeviceNamed', { displayName: 'Kiosk', extra: 1 })).toThrow(EventContractError);
    expect(() => registry.validateForWrite('DeviceRenamed', {})).toThrow('unknown event type DeviceRenamed');
  });

  it('decodes a consumed message, upcasting an old schema version', () => {
    const decoded = registry.decode(Buffer.from(JSON.stringify(envelope(1, { name: 'Kiosk' }))));
    expect(decoded).toMatchObject({ schemaVersion: 2, data: { displayName: 'Kiosk' } });
  });

  it('refuses what it cannot trust: not JSON, a bad envelope, a future version, a bad payload', () => {
    expect(() => registry.decode(Buffer.from('{'))).toThrow(/not JSON/);
    expect(() => registry.decode(JSON.stringify({ ...envelope(2, {}), eventId: 'x' }))).toThrow(/invalid envelope/);
    expect(() => registry.decode(JSON.stringify(envelope(3, { displayName: 'x' })))).toThrow(/unsupported schemaVersion 3/);
    expect(() => registry.decode(JSON.stringify(envelope(2, { displayName: 7 })))).toThrow(/invalid DeviceNamed v2 payload/);
  });

  it('a definition whose older versions have no upcaster is refused when registered', () => {
    const broken = defineEvent({ type: 'Broken', schemaVersion: 3, data: z.object({}), upcasters: { 1: (d) => d } });
    expect(() => new EventRegistry([broken])).toThrow('event type Broken lacks an upcaster from v2');
  });

  it("a definition's copies (alsoOn) need a topic of its own and name each other topic once", () => {
    const data = z.object({});
    expect(() => defineEvent({ type: 'Local', alsoOn: ['mdm.x'], data })).toThrow('Local: alsoOn names topics besides its own topic, each once');
    expect(() => defineEvent({ type: 'Twice', topic: 'mdm.a', alsoOn: ['mdm.b', 'mdm.b'], data })).toThrow('Twice: alsoOn');
    expect(() => defineEvent({ type: 'Self', topic: 'mdm.a', alsoOn: ['mdm.a'], data })).toThrow('Self: alsoOn');
    expect(defineEvent({ type: 'Copied', topic: 'mdm.a', alsoOn: ['mdm.b'], data }).alsoOn).toEqual(['mdm.b']);
  });

  it('isEvent tells a decoded envelope of the definition\'s type, and types its payload by the definition', () => {
    const decoded = new EventRegistry([V2]).decode(JSON.stringify(envelope(2, { displayName: 'kiosk' })));
    const other = { ...decoded, type: 'DeviceRenamed' };
    expect([isEvent(decoded, V2), isEvent(other, V2)]).toEqual([true, false]);
    if (isEvent(decoded, V2)) expect(decoded.data.displayName).toBe('kiosk');
  });
});
