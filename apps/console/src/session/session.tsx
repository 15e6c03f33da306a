import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { SIGNED_OUT_EVENT, api, call } from '../api/client';
import { Abilities, Session, abilitiesOf } from './abilities';
import { forgetToken, readToken, storeToken } from './token';

interface SessionState {
  session: Session | undefined;
  abilities: Abilities | undefined;
  /** Whether a stored token is still being checked. */
  checking: boolean;
  signIn(token: string): Promise<void>;
  signOut(): void;
}

const SessionContext = createContext<SessionState | undefined>(undefined);

const whoAmI = () => call(api.GET('/api/v1/session')) as Promise<Session>;

/** The signed-in token: checked with the gateway at sign-in and on reload, forgotten on sign-out or a 401. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [hasToken, setHasToken] = useState(() => readToken() !== null);
  const { data, isPending } = useQuery({ queryKey: ['session'], queryFn: whoAmI, enabled: hasToken, retry: false, staleTime: Infinity });

  const signIn = useCallback(
    async (token: string) => {
      storeToken(token);
      try {
        queryClient.setQueryData(['session'], await whoAmI());
        setHasToken(true);
      } catch (err) {
        forgetToken();
        throw err;
      }
    },
    [queryClient],
  );
  const signOut = useCallback(() => {
    forgetToken();
    setHasToken(false);
    queryClient.clear();
  }, [queryClient]);
  // A 401 on any call (the token was revoked) ends the session: back to the sign-in page.
  useEffect(() => {
    window.addEventListener(SIGNED_OUT_EVENT, signOut);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, signOut);
  }, [signOut]);

  const value = useMemo<SessionState>(() => {
    const session = hasToken ? data : undefined;
    return { session, abilities: session && abilitiesOf(session), checking: hasToken && isPending, signIn, signOut };
  }, [hasToken, data, isPending, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession outside SessionProvider');
  return state;
}

/** The signed-in tenant's id and abilities, inside the pages of a tenant token. */
export function useTenant(): { tenantId: string; abilities: Abilities } {
  const { session, abilities } = useSession();
  if (session?.kind !== 'tenant' || !abilities) throw new Error('useTenant needs a tenant session');
  return { tenantId: session.tenantId, abilities };
}
