import { DomainError } from '@mdm/contracts/core';

/** Another writer changed the stream since it was read (optimistic concurrency). */
export class VersionConflictError extends DomainError {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number | null,
  ) {
    super('VERSION_CONFLICT', `stream ${streamId} is at version ${actualVersion ?? 0}, not ${expectedVersion}`, {
      expectedVersion,
      actualVersion: actualVersion ?? 0,
    });
    this.name = 'VersionConflictError';
  }
}

/** An event id was reused for a different event: a bug in the caller, never a retry. */
export class DuplicateEventIdError extends Error {
  constructor(readonly eventIds: string[]) {
    super(`event ids already used by other appends: ${eventIds.join(', ')}`);
    this.name = 'DuplicateEventIdError';
  }
}
