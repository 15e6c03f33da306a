import { enrollmentOperations } from '@mdm/contracts/enrollment';
import { contractMismatches, nestRoutes } from '@mdm/platform/testing';
import { EnrollmentModule } from './enrollment.module';

describe('enrollment: the Nest routes are the contract (API.md)', () => {
  it('every operation is served at its method and path with its success status, and every public route is an operation', () => {
    expect(nestRoutes(EnrollmentModule).length).toBeGreaterThan(0);
    expect(contractMismatches(EnrollmentModule, enrollmentOperations)).toEqual([]);
  });
});
