import { authorityOperations } from '@mdm/contracts/authority';
import { contractMismatches, nestRoutes } from '@mdm/platform/testing';
import { AuthorityModule } from './authority.module';

describe('authority: the Nest routes are the contract (API.md)', () => {
  it('every operation is served at its method and path with its success status, and every public route is an operation', () => {
    expect(nestRoutes(AuthorityModule).length).toBeGreaterThan(0);
    expect(contractMismatches(AuthorityModule, authorityOperations)).toEqual([]);
  });
});
