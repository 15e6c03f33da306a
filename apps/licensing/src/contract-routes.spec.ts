import { licensingOperations } from '@mdm/contracts/licensing';
import { contractMismatches, nestRoutes } from '@mdm/platform/testing';
import { LicensingModule } from './licensing.module';

describe('licensing: the Nest routes are the contract (API.md)', () => {
  it('every operation is served at its method and path with its success status, and every public route is an operation', () => {
    expect(nestRoutes(LicensingModule).length).toBeGreaterThan(0);
    expect(contractMismatches(LicensingModule, licensingOperations)).toEqual([]);
  });
});
