import { Inject, Injectable } from '@nestjs/common';
import { AuthorityState, TenantCreated, TenantEvent, tenantStreamId } from '@mdm/contracts/authority';
import { EventEnvelope } from '@mdm/contracts/core';
import {
  TenantHistoryEvent,
  TenantState,
  bannerVisible,
  tenantEvolver,
} from '@mdm/authority/domain';
import { EventStore, VersionConflictError, foldStream } from '@mdm/platform/event-store';

const toHistory = (e: EventEnvelope) => ({ type: e.type, data: e.data, occurredAt: e.occurredAt }) as TenantHistoryEvent;

/** How often a command without expectedVersion is re-decided on fresh state after losing a race. */
const RACE_RETRIES = 3;

export interface TenantSnapshot {
  state: TenantState;
  version: number;
}

/** Loads a tenant from its stream, lets a domain decision run on it, and appends what it decided. */
@Injectable()
export class TenantsService {
  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  async load(tenantId: string): Promise<TenantSnapshot> {
    return foldStream(tenantEvolver, await this.store.readStream(tenantStreamId(tenantId)), toHistory);
  }

  /** Tenants in the order they were created, after a position of the event store (0 for the first). */
  async created(afterPosition: number, limit: number): Promise<{ tenantId: string; createdAt: string; position: number }[]> {
    const events = await this.store.eventsOfType(TenantCreated.type, afterPosition, limit);
    return events.map(({ position, event }) => ({ tenantId: event.tenantId, createdAt: event.occurredAt, position }));
  }

  /**
   * Runs `decide` against the current state. A concurrent writer makes the append fail with a
   * version conflict; a caller that pinned `expectedVersion` gets the 409, any other is re-decided.
   */
  async execute(
    tenantId: string,
    actor: string,
    decide: (state: TenantState, version: number) => TenantEvent[],
    pinned = false,
  ): Promise<TenantSnapshot> {
    for (let attempt = 1; ; attempt++) {
      const { state, version } = await this.load(tenantId);
      const events = decide(state, version);
      if (events.length === 0) return { state, version };
      try {
        const appended = await this.store.append(tenantStreamId(tenantId), events, {
          expectedVersion: version,
          tenantId,
          actor,
        });
        return {
          state: appended.envelopes.map(toHistory).reduce(tenantEvolver.evolve, state),
          version: appended.streamVersion,
        };
      } catch (err) {
        if (!(err instanceof VersionConflictError) || pinned || attempt >= RACE_RETRIES) throw err;
      }
    }
  }
}

export function toAuthorityState({ state, version }: TenantSnapshot): AuthorityState {
  return {
    tenantId: state.tenantId,
    name: state.name,
    authority: state.authority,
    bannerVisible: bannerVisible(state),
    coManagement: state.coManagement,
    apnsCertificates: Object.fromEntries(
      Object.entries(state.apnsCertificates).map(([a, c]) => [a, { serial: c.serial, subject: c.subject, notAfter: c.notAfter }]),
    ),
    consents: Object.keys(state.consents) as AuthorityState['consents'],
    version,
    changedAt: state.changedAt,
  };
}
