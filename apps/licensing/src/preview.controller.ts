import { Body, Controller, Param } from '@nestjs/common';
import { z } from 'zod';
import { tenantParams } from '@mdm/contracts/authority';
import { licensingOperations, previewBody } from '@mdm/contracts/licensing';
import { PathPipe, Serves, ZodPipe } from '@mdm/platform/http';
import { AuthorityPreview } from './authority-preview';

@Controller()
export class PreviewController {
  constructor(private readonly authorityPreview: AuthorityPreview) {}

  @Serves(licensingOperations, 'previewAuthority')
  preview(@Param(new PathPipe(tenantParams)) { tenantId }: z.infer<typeof tenantParams>, @Body(new ZodPipe(previewBody)) { authority }: z.infer<typeof previewBody>) {
    return this.authorityPreview.preview(tenantId, authority);
  }
}
