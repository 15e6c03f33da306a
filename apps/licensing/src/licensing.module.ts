import { Module } from '@nestjs/common';
import { AuthorityEventsConsumer } from './authority-events.consumer';
import { AuthorityPreview } from './authority-preview';
import { Directory } from './directory';
import { EnrollmentEventsConsumer } from './enrollment-events.consumer';
import { PreviewController } from './preview.controller';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Module({
  controllers: [UsersController, PreviewController, AuthorityEventsConsumer, EnrollmentEventsConsumer],
  providers: [Directory, UsersService, AuthorityPreview],
})
export class LicensingModule {}
