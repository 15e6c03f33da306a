import { projectionOperations } from '@mdm/contracts/projection';
import { contractMismatches, nestRoutes } from '@mdm/platform/testing';
import { ProjectionModule } from './projection.module';

describe('projection: the Nest routes are the contract (API.md)', () => {
  it('every operation is served at its method and path with its success status, and every public route is an operation', () => {
    expect(nestRoutes(ProjectionModule).length).toBeGreaterThan(0);
    expect(contractMismatches(ProjectionModule, projectionOperations)).toEqual([]);
  });
});
