import { Module } from '@nestjs/common';
import { actionControllers, actionProviders } from './actions/actions.module-parts';
import { CertificateRenewal } from './check-in/certificate-renewal';
import { CheckInController } from './check-in/check-in.controller';
import { CheckInService } from './check-in/check-in.service';
import { CheckInFacts } from './check-in/device-facts';
import { LegacyProfilesSweep } from './check-in/legacy-profiles.sweep';
import { DeviceAuth } from './device-auth';
import { FactsConsumer } from './facts.consumer';
import { MdmSignatureGuard } from './mdm-signature';
import { notificationControllers, notificationProviders } from './notifications/notifications.module-parts';

@Module({
  controllers: [CheckInController, FactsConsumer, ...notificationControllers, ...actionControllers],
  providers: [
    DeviceAuth,
    MdmSignatureGuard,
    CheckInFacts,
    CheckInService,
    CertificateRenewal,
    LegacyProfilesSweep,
    ...notificationProviders,
    ...actionProviders,
  ],
})
export class DeviceSyncModule {}
