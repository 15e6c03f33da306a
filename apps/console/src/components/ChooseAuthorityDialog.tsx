import { useState } from 'react';
import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Radio,
  RadioGroup,
  Spinner,
  Table,
  TableBody,
  TableCell,
  TableRow,
  Text,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, call, isConflict } from '../api/client';
import { authorityKey } from '../api/queries';
import { ErrorBar } from './ErrorBar';

export type TenantAuthority = 'unknown' | 'intune' | 'office365' | 'coexistence';
type Choice = Exclude<TenantAuthority, 'unknown'>;

export const authorityNames: Record<TenantAuthority, string> = {
  unknown: 'Unknown',
  intune: 'Intune MDM authority',
  office365: 'Basic Mobility and Security (MDM for Office 365)',
  coexistence: 'Coexistence (Intune and MDM for Office 365)',
};

/** R2: what each choice means, as the admin reads it before choosing. */
const meanings: Record<Choice, string> = {
  intune: 'Intune standalone manages every device. Users need a license that entitles Intune.',
  office365: 'MDM for Office 365 manages devices with basic policies. Users need an Office 365 license with MDM.',
  coexistence: "Both are active: each user's devices follow their licenses; Intune wins when a license entitles it.",
};

const useStyles = makeStyles({
  content: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
});

interface Props {
  tenantId: string;
  state: { authority: TenantAuthority; version: number; apnsCertificates: { intune?: unknown; office365?: unknown } };
  onClose(): void;
}

/**
 * "Choose MDM authority": the options and what each means, then the blast radius of the choice
 * (the preview: devices to notify, devices needing support, Apple devices blocked without an APNs
 * certificate, warnings) before the admin confirms. The switch carries the version the admin saw:
 * a change by someone else meanwhile is a 409, shown as such, and the state is reloaded.
 */
export function ChooseAuthorityDialog({ tenantId, state, onClose }: Props) {
  const styles = useStyles();
  const queryClient = useQueryClient();
  const [choice, setChoice] = useState<Choice | undefined>();
  const preview = useQuery({
    queryKey: ['authority-preview', tenantId, choice],
    enabled: choice !== undefined && choice !== state.authority,
    queryFn: () =>
      call(api.POST('/api/v1/tenants/{tenantId}/authority/preview', { params: { path: { tenantId } }, body: { authority: choice! } })),
  });
  const confirm = useMutation({
    mutationFn: () =>
      call(api.PUT('/api/v1/tenants/{tenantId}/authority', { params: { path: { tenantId } }, body: { authority: choice!, expectedVersion: state.version } })),
    onSuccess: (next) => {
      queryClient.setQueryData(authorityKey(tenantId), next);
      void queryClient.invalidateQueries({ queryKey: ['overview', tenantId] });
      onClose();
    },
    onError: (err) => {
      if (isConflict(err)) void queryClient.invalidateQueries({ queryKey: authorityKey(tenantId) });
    },
  });
  const apnsMissing = choice && choice !== 'coexistence' && !state.apnsCertificates[choice];

  return (
    <Dialog open modalType="modal" onOpenChange={(_, d) => !d.open && onClose()}>
      <DialogSurface aria-describedby={undefined}>
        <DialogBody>
          <DialogTitle>Choose MDM authority</DialogTitle>
          <DialogContent className={styles.content}>
            <RadioGroup value={choice ?? ''} onChange={(_, d) => {
                confirm.reset();
                setChoice(d.value as Choice);
              }} aria-label="MDM authority">
              {(Object.keys(meanings) as Choice[]).map((value) => (
                <Radio
                  key={value}
                  value={value}
                  disabled={value === state.authority}
                  label={
                    <>
                      <Text weight="semibold">{authorityNames[value]}</Text>
                      {value === state.authority ? ' (current)' : ''}
                      <br />
                      <Text size={200}>{meanings[value]}</Text>
                    </>
                  }
                />
              ))}
            </RadioGroup>
            {apnsMissing && (
              <MessageBar intent="warning">
                <MessageBarBody>
                  {authorityNames[choice]} has no APNs certificate yet: Apple devices moving to it are blocked until one is uploaded. Prepare it
                  (and its configurations) before switching.
                </MessageBarBody>
              </MessageBar>
            )}
            {preview.isFetching && <Spinner size="tiny" label="Computing what this choice changes…" />}
            <ErrorBar error={preview.error} title="No preview" />
            {preview.data && (
              <section aria-label="Preview" data-testid="authority-preview">
                <Text weight="semibold">If you confirm:</Text>
                <Table size="small" aria-label="What the change does">
                  <TableBody>
                    <TableRow>
                      <TableCell>Devices notified to check in</TableCell>
                      <TableCell data-testid="preview-notify">{preview.data.devicesToNotify}</TableCell>
                    </TableRow>
                    <TableRow>
                      <TableCell>Devices needing support (no user: not migrated)</TableCell>
                      <TableCell data-testid="preview-support">{preview.data.devicesNeedingSupport}</TableCell>
                    </TableRow>
                    <TableRow>
                      <TableCell>Apple devices blocked until an APNs certificate is uploaded</TableCell>
                      <TableCell data-testid="preview-apns">{preview.data.appleDevicesBlockedWithoutApns}</TableCell>
                    </TableRow>
                  </TableBody>
                </Table>
                {preview.data.warnings.map((w, i) => (
                  <MessageBar key={i} intent="warning">
                    <MessageBarBody>
                      <MessageBarTitle>{w.code}</MessageBarTitle>
                      {w.message}
                    </MessageBarBody>
                  </MessageBar>
                ))}
              </section>
            )}
            {isConflict(confirm.error) ? (
              <MessageBar intent="warning" role="alert" data-testid="authority-conflict">
                <MessageBarBody>
                  <MessageBarTitle>Changed by someone else</MessageBarTitle>
                  The authority changed while you were choosing; the current state has been reloaded. Review it and choose again.
                </MessageBarBody>
              </MessageBar>
            ) : (
              <ErrorBar error={confirm.error} title="The authority was not changed" />
            )}
          </DialogContent>
          <DialogActions>
            <Button appearance="secondary" onClick={onClose}>
              Cancel
            </Button>
            <Button appearance="primary" disabled={!preview.data || confirm.isPending || isConflict(confirm.error)} onClick={() => confirm.mutate()}>
              Confirm {choice ? authorityNames[choice] : ''}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
