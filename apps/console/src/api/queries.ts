import { useQuery } from '@tanstack/react-query';
import { api, call } from './client';

/** How often the live views ask again: the dashboard and device pages refresh by themselves. */
export const LIVE_REFRESH_MS = 3000;

export const authorityKey = (tenantId: string) => ['authority', tenantId] as const;

export function useAuthority(tenantId: string) {
  return useQuery({
    queryKey: authorityKey(tenantId),
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/authority', { params: { path: { tenantId } } })),
  });
}

export function useOverview(tenantId: string, live = false) {
  return useQuery({
    queryKey: ['overview', tenantId],
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/overview', { params: { path: { tenantId } } })),
    refetchInterval: live ? LIVE_REFRESH_MS : false,
  });
}
