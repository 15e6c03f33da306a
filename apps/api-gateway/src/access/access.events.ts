import { z } from 'zod';
import { defineEvent } from '@mdm/contracts/core';

// Kept inside the gateway (no topic): only the hash of a token is ever stored.
export const TokenIssued = defineEvent({
  type: 'TokenIssued',
  data: z
    .object({
      tokenId: z.string().uuid(),
      tenantId: z.string().uuid(),
      role: z.enum(['admin', 'helpdesk', 'reader', 'enroller']),
      tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
    })
    .strict(),
});

export const TokenRevoked = defineEvent({
  type: 'TokenRevoked',
  data: z.object({ tokenId: z.string().uuid() }).strict(),
});

export const accessEvents = [TokenIssued, TokenRevoked];
