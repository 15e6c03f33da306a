import { Controller, Get, HttpCode, Module, Post, Put } from '@nestjs/common';
import { HttpOperation } from '@mdm/contracts/core';
import { contractMismatches, nestRoutes } from './contract-routes';

const operation = (id: string, method: HttpOperation['method'], path: string, successStatus: number): HttpOperation => ({
  id,
  method,
  path,
  successStatus,
  access: 'public',
  summary: id,
  audited: false,
});

const operations = [
  operation('readThing', 'GET', '/api/v1/things/:thingId', 200),
  operation('makeThing', 'POST', '/api/v1/things', 201),
  operation('renameThing', 'PUT', '/api/v1/things/:thingId/name', 200),
];

@Controller('api/v1/things')
class ThingsController {
  @Get(':thingId')
  read() {
    return {};
  }

  // The contract answers 201.
  @Post()
  @HttpCode(200)
  make() {
    return {};
  }

  // The contract's path is /name.
  @Put(':thingId/title')
  rename() {
    return {};
  }
}

/** A service's internal routes are no public contract's. */
@Controller('internal')
class StatsController {
  @Get('stats')
  stats() {
    return {};
  }
}

@Module({ controllers: [ThingsController, StatsController] })
class ThingsModule {}

describe('contractMismatches (the check every service runs on its Nest routes)', () => {
  it('names each operation served at another status or at no route, and each public route no operation declares', () => {
    expect(nestRoutes(ThingsModule).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /api/v1/things/:thingId 200',
      'POST /api/v1/things 200',
      'PUT /api/v1/things/:thingId/title 200',
      'GET /internal/stats 200',
    ]);
    expect(contractMismatches(ThingsModule, operations)).toEqual([
      'makeThing: ThingsController.make answers 200, the contract 201',
      'renameThing: no route serves PUT /api/v1/things/:thingId/name',
      'ThingsController.rename: PUT /api/v1/things/:thingId/title is in no contract operation',
    ]);
  });
});
