import { Module } from '@nestjs/common';
import { CaCertificateController, CertificatesController } from './certificates.controller';
import { EnrollmentsController } from './enrollments.controller';
import { Enrollments } from './enrollments.service';
import { Facts, FactsConsumer, RenewalConsumer } from './facts';
import { MdmCertificateAuthority } from './mdm-certificate-authority';
import { RemovalSweep } from './removal-sweep';

@Module({
  controllers: [EnrollmentsController, FactsConsumer, RenewalConsumer, CertificatesController, CaCertificateController],
  providers: [Facts, Enrollments, MdmCertificateAuthority, RemovalSweep],
})
export class EnrollmentModule {}
