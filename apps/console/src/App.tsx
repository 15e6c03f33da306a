import { Suspense, lazy, type ComponentType } from 'react';
import { Badge, Button, Spinner, Tab, TabList, Text, makeStyles, tokens } from '@fluentui/react-components';
import { Redirect, Route, Switch, useLocation } from 'wouter';
import { Abilities } from './session/abilities';
import { useSession } from './session/session';
import { SignInPage } from './pages/SignInPage';
import { StatusPage } from './pages/StatusPage';

// Only the sign-in and status pages are in the first bundle; the others load when first opened.
const DashboardPage = lazy(() => import('./pages/DashboardPage'));
const DevicesPage = lazy(() => import('./pages/DevicesPage'));
const DevicePage = lazy(() => import('./pages/DevicePage'));
const ConfigurationsPage = lazy(() => import('./pages/ConfigurationsPage'));
const UsersPage = lazy(() => import('./pages/UsersPage'));
const AuditPage = lazy(() => import('./pages/AuditPage'));
const TokensPage = lazy(() => import('./pages/TokensPage'));
const EnrollPage = lazy(() => import('./pages/EnrollPage'));
const TenantsPage = lazy(() => import('./pages/TenantsPage'));

interface Page {
  path: string;
  label: string;
  component: ComponentType;
  /** Pages under another page's path (a device under the devices) are not in the navigation. */
  nested?: boolean;
  allowed: (a: Abilities) => boolean;
}

const pages: Page[] = [
  { path: '/status', label: 'Tenant status', component: StatusPage, allowed: (a) => a.read },
  { path: '/dashboard', label: 'Migration', component: DashboardPage, allowed: (a) => a.read },
  { path: '/devices', label: 'Devices', component: DevicesPage, allowed: (a) => a.read },
  { path: '/devices/:deviceId', label: 'Device', component: DevicePage, nested: true, allowed: (a) => a.read },
  { path: '/users', label: 'Users and licenses', component: UsersPage, allowed: (a) => a.read },
  { path: '/users/:userId', label: 'User', component: UsersPage, nested: true, allowed: (a) => a.read },
  { path: '/configurations', label: 'Configurations', component: ConfigurationsPage, allowed: (a) => a.read },
  { path: '/enroll', label: 'Enrollment', component: EnrollPage, allowed: (a) => a.enroll },
  { path: '/audit', label: 'Audit log', component: AuditPage, allowed: (a) => a.read },
  { path: '/tokens', label: 'Tokens', component: TokensPage, allowed: (a) => a.manageTokens },
  { path: '/tenants', label: 'Tenants', component: TenantsPage, allowed: (a) => a.manageTenants },
];

const useStyles = makeStyles({
  shell: { display: 'grid', gridTemplateColumns: '220px 1fr', gridTemplateRows: 'auto 1fr', minHeight: '100vh' },
  header: {
    gridColumn: '1 / 3',
    display: 'flex',
    alignItems: 'center',
    gap: tokens.spacingHorizontalM,
    padding: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalL}`,
    backgroundColor: tokens.colorBrandBackground,
    color: tokens.colorNeutralForegroundOnBrand,
  },
  grow: { flexGrow: 1 },
  nav: { padding: tokens.spacingVerticalM, borderRight: `1px solid ${tokens.colorNeutralStroke2}` },
  tab: { justifyContent: 'flex-start' },
  main: { padding: tokens.spacingHorizontalXL, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL, minWidth: 0 },
});

export function App() {
  const { session, abilities, checking, signOut } = useSession();
  const styles = useStyles();
  const [location, navigate] = useLocation();
  if (checking) return <Spinner label="Checking your token…" />;
  if (!session || !abilities) return <SignInPage />;

  const available = pages.filter((p) => p.allowed(abilities));
  const menu = available.filter((p) => !p.nested);
  const current = menu.find((p) => location === p.path || location.startsWith(`${p.path}/`))?.path;
  return (
    <div className={styles.shell}>
      <header className={styles.header}>
        <Text weight="semibold" size={500} as="h1">
          MDM authority console
        </Text>
        <span className={styles.grow} />
        <Text>{session.kind === 'tenant' ? `Tenant ${session.tenantId}` : 'Platform operator'}</Text>
        <Badge appearance="filled" color="informative" data-testid="role">
          {session.kind === 'tenant' ? session.role : 'operator'}
        </Badge>
        <Button appearance="primary" onClick={signOut}>
          Sign out
        </Button>
      </header>
      <nav className={styles.nav} aria-label="Console">
        <TabList vertical selectedValue={current} onTabSelect={(_, data) => navigate(String(data.value))}>
          {menu.map((p) => (
            <Tab key={p.path} value={p.path} className={styles.tab}>
              {p.label}
            </Tab>
          ))}
        </TabList>
      </nav>
      <main className={styles.main}>
        <Suspense fallback={<Spinner label="Loading…" />}>
          <Switch>
            {available.map((p) => (
              <Route key={p.path} path={p.path} component={p.component} />
            ))}
            <Route>
              <Redirect to={menu[0].path} replace />
            </Route>
          </Switch>
        </Suspense>
      </main>
    </div>
  );
}
