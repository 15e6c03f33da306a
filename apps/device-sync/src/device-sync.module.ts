import { Module } from '@nestjs/common';
import { actionControllers, actionProviders } from './actions/actions.module-parts';
import { CertificateRenewal } from './check-in/certificate-renewal';
import { CheckInController } from './check-in/check-in.controller';
import { CheckInService } from './check-in/check-in.service';
import { CheckInFacts } from './check-in/device-facts';
import { LegacyProfilesSweep } from './check-in/legacy-profiles.sweep';
import { SERVICE_CONFIG } from '@mdm/platform/http';
import { DeviceAuth, DeviceStateOwners } from './device-auth';
import { DeviceSyncConfig } from './device-sync.definition';
import { FactsConsumer } from './facts.consumer';
import { MdmSignatureGuard } from './mdm-signature';
import { notificationControllers, notificationProviders } from './notifications/notifications.module-parts';

@Module({
  controllers: [CheckInController, FactsConsumer, ...notificationControllers, ...actionControllers],
  providers: [
    DeviceAuth,
    {
      provide: DeviceStateOwners,
      inject: [SERVICE_CONFIG],
      useFactory: ({ AUTHORITY_URL, LICENSING_URL, ENROLLMENT_URL }: DeviceSyncConfig) =>
        new DeviceStateOwners(AUTHORITY_URL, LICENSING_URL, ENROLLMENT_URL),
    },
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
