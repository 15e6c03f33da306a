import { deviceSyncOperations } from '@mdm/contracts/device-sync';
import { contractMismatches, nestRoutes } from '@mdm/platform/testing';
import { DeviceSyncModule } from './device-sync.module';

describe('device-sync: the Nest routes are the contract (API.md)', () => {
  it('every operation is served at its method and path with its success status, and every public route is an operation', () => {
    expect(nestRoutes(DeviceSyncModule).length).toBeGreaterThan(0);
    expect(contractMismatches(DeviceSyncModule, deviceSyncOperations)).toEqual([]);
  });
});
