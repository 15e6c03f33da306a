import { useState } from 'react';
import {
  Badge,
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Input,
  Spinner,
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
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useParams } from 'wouter';
import { api, call } from '../api/client';
import { LIVE_REFRESH_MS } from '../api/queries';
import { ErrorBar } from '../components/ErrorBar';
import { Panel } from '../components/Panel';
import { Freshness } from '../components/Freshness';
import { dateTime, relative } from '../format';
import { useTenant } from '../session/session';

type ActionType = 'remoteLock' | 'wipe' | 'retire' | 'sync';
const actionLabels: Record<ActionType, string> = { remoteLock: 'Remote lock', wipe: 'Wipe', retire: 'Retire', sync: 'Sync' };

const useStyles = makeStyles({
  panels: { display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(420px, 1fr))', gap: tokens.spacingHorizontalL },
  row: { display: 'flex', gap: tokens.spacingHorizontalS, flexWrap: 'wrap', alignItems: 'center' },
});

/** R27: one device, refreshed live; R24: its remote actions, each followed pending → sent → done. */
export default function DevicePage() {
  const { tenantId, abilities } = useTenant();
  const { deviceId } = useParams<{ deviceId: string }>();
  const styles = useStyles();
  const device = useQuery({
    queryKey: ['device', tenantId, deviceId],
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/devices/{deviceId}', { params: { path: { tenantId, deviceId } } })),
    refetchInterval: LIVE_REFRESH_MS,
  });
  const [commands, setCommands] = useState<string[]>([]);
  const [confirmingWipe, setConfirmingWipe] = useState(false);
  const queryClient = useQueryClient();
  const act = useMutation({
    mutationFn: (type: ActionType) =>
      call(api.POST('/api/v1/tenants/{tenantId}/devices/{deviceId}/actions', { params: { path: { tenantId, deviceId } }, body: { type } })),
    onSuccess: (command) => {
      setCommands((c) => [command.commandId, ...c]);
      void queryClient.invalidateQueries({ queryKey: ['device', tenantId, deviceId] });
    },
  });

  if (device.isPending) return <Spinner label="Loading the device…" />;
  if (device.isError) return <ErrorBar error={device.error} />;
  const d = device.data;
  return (
    <>
      <Title2 as="h2">{d.deviceName ?? d.serialNumber}</Title2>
      <Freshness asOf={d.asOf} lagMs={d.lagMs} fetchedAt={device.dataUpdatedAt} />
      <Text>
        {d.platform} · serial {d.serialNumber} · {d.enrollmentType} enrollment {relative(d.enrolledAt)} · user {d.userId ?? 'none (userless)'}
      </Text>
      <div className={styles.row}>
        <Badge data-testid="device-managed-by">managed by {d.managedBy}</Badge>
        <Badge color={d.migration === 'migrated' ? 'success' : d.migration === 'none' ? 'subtle' : 'warning'} data-testid="device-migration">
          migration: {d.migration}
        </Badge>
        <Badge color={d.compliance.state === 'compliant' ? 'success' : d.compliance.state === 'noncompliant' ? 'danger' : 'subtle'}>{d.compliance.state}</Badge>
      </div>
      {abilities.remoteActions && (
        <section aria-label="Remote actions" className={styles.row}>
          {(['remoteLock', 'retire', 'sync'] as const).map((type) => (
            <Button key={type} onClick={() => act.mutate(type)} disabled={act.isPending}>
              {actionLabels[type]}
            </Button>
          ))}
          <Button onClick={() => setConfirmingWipe(true)} disabled={act.isPending}>
            Wipe
          </Button>
        </section>
      )}
      <ErrorBar error={act.error} title="The action was refused" />
      {commands.length > 0 && (
        <Panel title="Actions you sent">
          {commands.map((commandId) => (
            <ActionStatus key={commandId} tenantId={tenantId} deviceId={deviceId} commandId={commandId} />
          ))}
        </Panel>
      )}
      {confirmingWipe && (
        <WipeDialog
          name={d.deviceName ?? d.serialNumber}
          onCancel={() => setConfirmingWipe(false)}
          onConfirm={() => {
            setConfirmingWipe(false);
            act.mutate('wipe');
          }}
        />
      )}
      <div className={styles.panels}>
        <Panel title="Profiles">
          <ConfigurationTable label="Installed" items={d.configurations} />
          <ConfigurationTable label="Redundant (old authority, no replacement)" items={d.redundantConfigurations} />
          <ConfigurationTable
            label={
              d.legacyConfigurations.expired
                ? 'Legacy profiles: expired'
                : `Legacy (old authority) ${d.legacyConfigurations.expiresAt ? `until ${dateTime(d.legacyConfigurations.expiresAt)}` : ''}`
            }
            items={d.legacyConfigurations.items}
          />
        </Panel>
        <Panel title="Compliance and certificate">
          <Text>Compliance: {d.compliance.state}</Text>
          {d.compliance.reasons.map((r, i) => (
            <Text key={i}>
              {r.setting}: expected {String(r.expected)}, actual {String(r.actual)}
            </Text>
          ))}
          <Text>Last check-in: {dateTime(d.lastCheckInAt)}; next expected {dateTime(d.nextCheckInAt)}</Text>
          <Text>
            MDM certificate {d.mdmCertificate.serial}, valid until {dateTime(d.mdmCertificate.notAfter)}; removal due {dateTime(d.removalDueAt)} if it stops
            checking in.
          </Text>
        </Panel>
        <Panel title="Pending actions">
          {d.pendingActions.length === 0 ? (
            <Text>None.</Text>
          ) : (
            d.pendingActions.map((a) => (
              <Text key={a.commandId}>
                {actionLabels[a.type]}: {a.status} ({relative(a.updatedAt)})
              </Text>
            ))
          )}
        </Panel>
        <Panel title="Timeline">
          <Table size="small" aria-label="Timeline">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>When</TableHeaderCell>
                <TableHeaderCell>Event</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {d.timeline.map((t, i) => (
                <TableRow key={i}>
                  <TableCell>{dateTime(t.occurredAt)}</TableCell>
                  <TableCell>{t.type}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Panel>
      </div>
    </>
  );
}

function ConfigurationTable({ label, items }: { label: string; items: { name: string; type: string; authority: string; version: number }[] }) {
  return (
    <>
      <Text weight="semibold">{label}</Text>
      {items.length === 0 ? (
        <Text>None.</Text>
      ) : (
        <Table size="small" aria-label={label}>
          <TableBody>
            {items.map((c) => (
              <TableRow key={`${c.authority}-${c.type}-${c.name}`}>
                <TableCell>{c.name}</TableCell>
                <TableCell>{c.type}</TableCell>
                <TableCell>{c.authority}</TableCell>
                <TableCell>v{c.version}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </>
  );
}

/** One remote action's state, asked again until it is done or failed. */
function ActionStatus({ tenantId, deviceId, commandId }: { tenantId: string; deviceId: string; commandId: string }) {
  const status = useQuery({
    queryKey: ['action', tenantId, deviceId, commandId],
    queryFn: () => call(api.GET('/api/v1/tenants/{tenantId}/devices/{deviceId}/actions/{commandId}', { params: { path: { tenantId, deviceId, commandId } } })),
    refetchInterval: (q) => (q.state.data && ['done', 'failed'].includes(q.state.data.status) ? false : 1000),
  });
  if (!status.data) return <Spinner size="tiny" />;
  const a = status.data;
  return (
    <Text data-testid={`action-${a.type}`} aria-live="polite">
      {actionLabels[a.type]}: <strong data-testid="action-status">{a.status}</strong> ({relative(a.updatedAt)}){a.error ? ` — ${a.error}` : ''}
    </Text>
  );
}

/** A wipe erases the device: the admin types its name to confirm. */
function WipeDialog({ name, onCancel, onConfirm }: { name: string; onCancel(): void; onConfirm(): void }) {
  const [typed, setTyped] = useState('');
  return (
    <Dialog open modalType="alert" onOpenChange={(_, d) => !d.open && onCancel()}>
      <DialogSurface>
        <DialogBody>
          <DialogTitle>Wipe {name}?</DialogTitle>
          <DialogContent>
            <Field label={`Type the device name "${name}" to confirm. The device is reset to factory settings and all its data is erased.`}>
              <Input value={typed} onChange={(_, d) => setTyped(d.value)} />
            </Field>
          </DialogContent>
          <DialogActions>
            <Button onClick={onCancel}>Cancel</Button>
            <Button appearance="primary" disabled={typed !== name} onClick={onConfirm}>
              Wipe the device
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
