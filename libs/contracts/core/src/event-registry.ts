import { EventDefinition } from './event-definition';
import { EventEnvelope, eventEnvelopeSchema } from './envelope';

/** Why an event could not be accepted; consumers dead-letter it with this reason. */
export class EventContractError extends Error {
  constructor(
    message: string,
    readonly issues: unknown = undefined,
  ) {
    super(message);
    this.name = 'EventContractError';
  }
}

/**
 * Every event type a process knows. Payloads are validated when produced and when consumed,
 * and older schema versions are upcast on read: old events are never rewritten.
 */
export class EventRegistry {
  private readonly byType = new Map<string, EventDefinition>();

  constructor(definitions: Iterable<EventDefinition> = []) {
    for (const d of definitions) this.register(d);
  }

  register(def: EventDefinition): this {
    const known = this.byType.get(def.type);
    if (known && known !== def) throw new Error(`event type ${def.type} is registered twice`);
    for (let v = 1; v < def.schemaVersion; v++) {
      if (!def.upcasters[v]) throw new Error(`event type ${def.type} lacks an upcaster from v${v}`);
    }
    this.byType.set(def.type, def);
    return this;
  }

  get(type: string): EventDefinition {
    const def = this.byType.get(type);
    if (!def) throw new EventContractError(`unknown event type ${type}`);
    return def;
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  definitions(): EventDefinition[] {
    return [...this.byType.values()];
  }

  /** Validates a payload a producer is about to write at the current schema version. */
  validateForWrite(type: string, data: unknown): unknown {
    const def = this.get(type);
    const parsed = def.data.safeParse(data);
    if (!parsed.success) {
      throw new EventContractError(`invalid ${type} payload: ${parsed.error.message}`, parsed.error.issues);
    }
    return parsed.data;
  }

  /** Upcasts a stored or received payload to the current version and validates it. */
  read(type: string, schemaVersion: number, data: unknown): { schemaVersion: number; data: unknown } {
    const def = this.get(type);
    if (!Number.isInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > def.schemaVersion) {
      throw new EventContractError(`${type} has unsupported schemaVersion ${schemaVersion}`);
    }
    let current = data;
    for (let v = schemaVersion; v < def.schemaVersion; v++) current = def.upcasters[v](current);
    const parsed = def.data.safeParse(current);
    if (!parsed.success) {
      throw new EventContractError(`invalid ${type} v${schemaVersion} payload: ${parsed.error.message}`, parsed.error.issues);
    }
    return { schemaVersion: def.schemaVersion, data: parsed.data };
  }

  /** Parses a raw message (a JSON string or buffer) into a validated, upcast envelope. */
  decode(raw: Buffer | string | null): EventEnvelope {
    if (raw === null) throw new EventContractError('message has no value');
    let json: unknown;
    try {
      json = JSON.parse(raw.toString());
    } catch (err) {
      throw new EventContractError(`message is not JSON: ${(err as Error).message}`);
    }
    const envelope = eventEnvelopeSchema.safeParse(json);
    if (!envelope.success) {
      throw new EventContractError(`invalid envelope: ${envelope.error.message}`, envelope.error.issues);
    }
    const { schemaVersion, data } = this.read(envelope.data.type, envelope.data.schemaVersion, envelope.data.data);
    return { ...envelope.data, schemaVersion, data };
  }
}
