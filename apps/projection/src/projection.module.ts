import { Module } from '@nestjs/common';
import { Freshness } from './freshness';
import { ViewGenerations } from './view-generations';
import { RebuildController, ViewsController } from './views.controller';
import { ViewsService } from './views.service';

@Module({
  controllers: [ViewsController, RebuildController],
  providers: [Freshness, ViewGenerations, ViewsService],
})
export class ProjectionModule {}
