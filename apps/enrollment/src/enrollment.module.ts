import { Module } from '@nestjs/common';
import { ServiceRuntime } from '@mdm/platform/http';
import { ReadYourWrites } from '@mdm/platform/inbox';
import { CertificatesController } from './certificates.controller';
import { EnrollmentsController } from './enrollments.controller';
import { Facts, FactsConsumer, RenewalConsumer } from './facts';
import { MdmCertificateAuthority } from './mdm-certificate-authority';
import { RemovalSweep } from './removal-sweep';

@Module({
  controllers: [EnrollmentsController, FactsConsumer, RenewalConsumer, CertificatesController],
  providers: [
    Facts,
    MdmCertificateAuthority,
    RemovalSweep,
    {
      provide: ReadYourWrites,
      inject: [ServiceRuntime],
      useFactory: (runtime: ServiceRuntime) => new ReadYourWrites({ db: runtime.db, logger: runtime.logger }),
    },
  ],
})
export class EnrollmentModule {}
