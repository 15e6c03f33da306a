import { DomainEventOf, EventEnvelope, Role, conflict, notFound } from '@mdm/contracts/core';
import { TokenIssued, TokenRevoked } from './access.events';

/*
 * A tenant token's stream: its state, the fold of its events and the issue and revoke decisions,
 * pure as a domain library's are. It sits beside the gateway's token service rather than in a
 * libs/<context>/domain lib because its events are the gateway's own (access.events.ts: no topic,
 * no other service reads them), and a lib cannot import an app's events.
 */

export type TokenEvent = DomainEventOf<typeof TokenIssued> | DomainEventOf<typeof TokenRevoked>;
/** A stored token event with the time it was recorded: the token row's created_at and revoked_at. */
export type TokenHistoryEvent = TokenEvent & { recordedAt: string };

export interface TokenState {
  exists: boolean;
  tokenId: string;
  tenantId: string;
  role: Role;
  tokenHash: string;
  issuedAt: string | null;
  revokedAt: string | null;
}

export const tokenStreamId = (tokenId: string) => `token-${tokenId}`;

const initialToken: TokenState = { exists: false, tokenId: '', tenantId: '', role: 'reader', tokenHash: '', issuedAt: null, revokedAt: null };

function evolveToken(state: TokenState, event: TokenHistoryEvent): TokenState {
  switch (event.type) {
    case 'TokenIssued':
      return { ...state, ...event.data, exists: true, issuedAt: event.recordedAt };
    case 'TokenRevoked':
      return { ...state, revokedAt: event.recordedAt };
  }
}

export const tokenEvolver = { initial: initialToken, evolve: evolveToken };

export const toTokenEvent = (e: EventEnvelope): TokenHistoryEvent => ({ type: e.type, data: e.data, recordedAt: e.recordedAt }) as TokenHistoryEvent;

/** A token's id is new, so its stream cannot exist yet. */
export function issueToken(state: TokenState, token: { tokenId: string; tenantId: string; role: Role; tokenHash: string }): TokenEvent[] {
  if (state.exists) throw conflict('VERSION_CONFLICT', `token ${token.tokenId} exists`);
  return [{ type: 'TokenIssued', data: token }];
}

/** A token that is not live (never issued, of another tenant, already revoked) is a 404. */
export function revokeToken(state: TokenState): TokenEvent[] {
  if (!state.exists || state.revokedAt !== null) throw notFound('token');
  return [{ type: 'TokenRevoked', data: { tokenId: state.tokenId } }];
}
