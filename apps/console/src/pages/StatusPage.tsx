import { useRef, useState } from 'react';
import {
  Badge,
  Button,
  Field,
  MessageBar,
  MessageBarActions,
  MessageBarBody,
  MessageBarTitle,
  Spinner,
  Switch,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  Title2,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, call, isConflict } from '../api/client';
import type { components, operations } from '../api/schema';
import { authorityKey, useAuthority } from '../api/queries';
import { Choice } from '../components/Choice';
import { ErrorBar } from '../components/ErrorBar';
import { Panel } from '../components/Panel';
import { ChooseAuthorityDialog, authorityNames } from '../components/ChooseAuthorityDialog';
import { dateTime, expiryWarning, relative } from '../format';
import { useTenant } from '../session/session';

const useStyles = makeStyles({
  cards: { display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(360px, 1fr))', gap: tokens.spacingHorizontalL },
  row: { display: 'flex', gap: tokens.spacingHorizontalS, alignItems: 'center', flexWrap: 'wrap' },
});

const managing = ['intune', 'office365'] as const;
type ConsentKind = NonNullable<operations['grantConsent']['requestBody']>['content']['application/json']['kind'];
/** Every consent of the contract (R5), by the name its owner gives it. */
const consentNames: Record<ConsentKind, string> = {
  androidWorkProfile: 'Android work profiles (Google)',
  appleMdmPush: 'Apple MDM push certificate (Apple)',
  appleDep: 'Apple Device Enrollment Program',
  appleSchoolManager: 'Apple School Manager',
  appleVpp: 'Apple Volume Purchasing Program',
};
const consentKinds = Object.keys(consentNames) as ConsentKind[];

type CoManagement = components['schemas']['AuthorityState']['coManagement'];
type Workload = keyof CoManagement['workloads'];
/** Every workload of the contract, as the admin center names it (a workload the contract adds fails the type check here). */
const workloadNames: Record<Workload, string> = {
  compliancePolicies: 'Compliance policies',
  deviceConfiguration: 'Device configuration',
  resourceAccess: 'Resource access policies',
  endpointProtection: 'Endpoint Protection',
  clientApps: 'Client apps',
  officeClickToRun: 'Office Click-to-Run apps',
  windowsUpdatePolicies: 'Windows Update policies',
};
const workloads = Object.keys(workloadNames) as Workload[];
const workloadHandlers = ['configMgr', 'intune'] as const satisfies readonly NonNullable<CoManagement['workloads'][Workload]>[];

/** R1–R7: the tenant's MDM authority, as the Intune admin center's "Tenant status" shows it, and better. */
export function StatusPage() {
  const { tenantId, abilities } = useTenant();
  const styles = useStyles();
  const authority = useAuthority(tenantId);
  const [choosing, setChoosing] = useState(false);
  if (authority.isPending) return <Spinner label="Loading the tenant…" />;
  if (authority.isError) return <ErrorBar error={authority.error} />;
  const state = authority.data;
  return (
    <>
      <Title2 as="h2">Tenant status</Title2>
      {state.bannerVisible && (
        <MessageBar intent="warning" data-testid="authority-banner" layout="multiline">
          <MessageBarBody>
            <MessageBarTitle>Mobile device management authority: Unknown</MessageBarTitle>
            No device can enroll until the MDM authority is chosen.
          </MessageBarBody>
          {abilities.administer && (
            <MessageBarActions>
              <Button onClick={() => setChoosing(true)}>Choose MDM authority</Button>
            </MessageBarActions>
          )}
        </MessageBar>
      )}
      <div className={styles.cards}>
        <Panel title="MDM authority">
          <Text size={500} data-testid="authority">
            {authorityNames[state.authority]}
          </Text>
          <Text>
            Version {state.version} · changed {state.changedAt ? relative(state.changedAt) : 'never'}
          </Text>
          {abilities.administer && (
            <div className={styles.row}>
              <Button appearance="primary" onClick={() => setChoosing(true)}>
                {state.authority === 'unknown' ? 'Choose MDM authority' : 'Change MDM authority'}
              </Button>
            </div>
          )}
          <MessageBar intent="info">
            <MessageBarBody>
              Before switching, prepare the new authority: create its configurations and compliance policies and upload its APNs
              certificate, so that devices receive them at their first check-in and Apple devices are not blocked.
            </MessageBarBody>
          </MessageBar>
        </Panel>
        <ApnsCard tenantId={tenantId} certificates={state.apnsCertificates} canUpload={abilities.administer} />
        <ConsentsCard tenantId={tenantId} granted={state.consents} canGrant={abilities.administer} />
        {(state.authority === 'intune' || state.authority === 'coexistence') && (
          <CoManagementCard tenantId={tenantId} state={state.coManagement} version={state.version} canChange={abilities.administer} />
        )}
      </div>
      {choosing && <ChooseAuthorityDialog tenantId={tenantId} state={state} onClose={() => setChoosing(false)} />}
    </>
  );
}

type Certificate = { serial: string; subject: string; notAfter: string };

/** R6: one APNs certificate per authority, uploaded from a PEM file, with a warning in its last 30 days. */
function ApnsCard({ tenantId, certificates, canUpload }: { tenantId: string; certificates: Partial<Record<(typeof managing)[number], Certificate>>; canUpload: boolean }) {
  const queryClient = useQueryClient();
  const files = useRef<Partial<Record<string, HTMLInputElement | null>>>({});
  const upload = useMutation({
    mutationFn: async ({ authority, file }: { authority: (typeof managing)[number]; file: File }) =>
      call(
        api.PUT('/api/v1/tenants/{tenantId}/authorities/{authority}/apns-certificate', {
          params: { path: { tenantId, authority } },
          body: { certificatePem: await file.text() },
        }),
      ),
    onSettled: () => queryClient.invalidateQueries({ queryKey: authorityKey(tenantId) }),
  });
  return (
    <Panel title="Apple MDM push (APNs) certificates">
      <Table size="small" aria-label="APNs certificates">
        <TableHeader>
          <TableRow>
            <TableHeaderCell>Authority</TableHeaderCell>
            <TableHeaderCell>Certificate</TableHeaderCell>
            <TableHeaderCell>Expires</TableHeaderCell>
            {canUpload && <TableHeaderCell>Upload</TableHeaderCell>}
          </TableRow>
        </TableHeader>
        <TableBody>
          {managing.map((authority) => {
            const cert = certificates[authority];
            const warning = cert && expiryWarning(cert.notAfter);
            return (
              <TableRow key={authority} data-testid={`apns-${authority}`}>
                <TableCell>{authorityNames[authority]}</TableCell>
                <TableCell>{cert ? `${cert.subject} (serial ${cert.serial})` : 'none'}</TableCell>
                <TableCell>
                  {cert ? dateTime(cert.notAfter) : '—'}{' '}
                  {warning && (
                    <Badge color={warning === 'expired' ? 'danger' : 'warning'}>{warning === 'expired' ? 'expired' : `expires ${relative(cert.notAfter)}`}</Badge>
                  )}
                </TableCell>
                {canUpload && (
                  <TableCell>
                    <input
                      ref={(el) => {
                        files.current[authority] = el;
                      }}
                      type="file"
                      accept=".pem,.crt,.cer"
                      hidden
                      data-testid={`apns-file-${authority}`}
                      onChange={(e) => {
                        const file = e.target.files?.[0];
                        if (file) upload.mutate({ authority, file });
                        e.target.value = '';
                      }}
                    />
                    <Button size="small" onClick={() => files.current[authority]?.click()} disabled={upload.isPending}>
                      Upload PEM for {authorityNames[authority]}
                    </Button>
                  </TableCell>
                )}
              </TableRow>
            );
          })}
        </TableBody>
      </Table>
      <ErrorBar error={upload.error} title="The certificate was refused" />
      {upload.isSuccess && (
        <MessageBar intent="success">
          <MessageBarBody>Uploaded certificate {upload.data.serial}, valid until {dateTime(upload.data.notAfter)}.</MessageBarBody>
        </MessageBar>
      )}
    </Panel>
  );
}

/** R5: the consents to share data with Google or Apple, recorded before the actions that need them. */
function ConsentsCard({ tenantId, granted, canGrant }: { tenantId: string; granted: string[]; canGrant: boolean }) {
  const styles = useStyles();
  const queryClient = useQueryClient();
  const grant = useMutation({
    mutationFn: (kind: ConsentKind) => call(api.POST('/api/v1/tenants/{tenantId}/consents', { params: { path: { tenantId } }, body: { kind } })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: authorityKey(tenantId) }),
  });
  return (
    <Panel title="Consents" description="Data shared with Google or Apple needs your recorded consent.">
      {consentKinds.map((kind) => (
        <div key={kind} className={styles.row}>
          <Text>{consentNames[kind]}</Text>
          {granted.includes(kind) ? (
            <Badge color="success">granted</Badge>
          ) : canGrant ? (
            <Button size="small" onClick={() => grant.mutate(kind)} disabled={grant.isPending}>
              Grant consent: {consentNames[kind]}
            </Button>
          ) : (
            <Badge color="subtle">not granted</Badge>
          )}
        </div>
      ))}
      <ErrorBar error={grant.error} />
    </Panel>
  );
}

/** R2: co-management with Configuration Manager on top of Intune, and who handles each workload. */
function CoManagementCard({ tenantId, state, version, canChange }: { tenantId: string; state: CoManagement; version: number; canChange: boolean }) {
  const styles = useStyles();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<CoManagement>(state);
  const save = useMutation({
    mutationFn: () =>
      call(api.PUT('/api/v1/tenants/{tenantId}/co-management', { params: { path: { tenantId } }, body: { ...draft, expectedVersion: version } })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: authorityKey(tenantId) }),
  });
  return (
    <Panel title="Co-management" description="Windows devices managed together with Configuration Manager.">
      <Switch label="Co-management enabled" checked={draft.enabled} disabled={!canChange} onChange={(_, d) => setDraft({ ...draft, enabled: d.checked })} />
      <Switch
        label="Automatic enrollment into Intune"
        checked={draft.autoEnrollment}
        disabled={!canChange}
        onChange={(_, d) => setDraft({ ...draft, autoEnrollment: d.checked })}
      />
      {workloads.map((workload) => (
        <Field key={workload} label={workloadNames[workload]} orientation="horizontal">
          <Choice
            value={draft.workloads[workload] ?? 'configMgr'}
            options={workloadHandlers}
            disabled={!canChange}
            onChange={(handler) => setDraft({ ...draft, workloads: { ...draft.workloads, [workload]: handler } })}
          />
        </Field>
      ))}
      {canChange && (
        <div className={styles.row}>
          <Button appearance="primary" onClick={() => save.mutate()} disabled={save.isPending}>
            Save co-management
          </Button>
        </div>
      )}
      {isConflict(save.error) ? (
        <MessageBar intent="warning" role="alert">
          <MessageBarBody>Changed by someone else: reloaded the current settings.</MessageBarBody>
        </MessageBar>
      ) : (
        <ErrorBar error={save.error} />
      )}
    </Panel>
  );
}
