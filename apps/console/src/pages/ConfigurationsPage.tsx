import { useState, type FormEvent } from 'react';
import {
  Button,
  Card,
  CardHeader,
  Checkbox,
  Dropdown,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  Option,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Textarea,
  Title2,
  Title3,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useMutation } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { ErrorBar } from '../components/ErrorBar';
import { useTenant } from '../session/session';

const authorities = ['intune', 'office365'] as const;
const types = ['email', 'vpn', 'certificate', 'wifi', 'configuration', 'compliance'] as const;
const platforms = ['ios', 'ipados', 'macos', 'android', 'windows'] as const;
type Authority = (typeof authorities)[number];

interface Draft {
  configurationId?: string;
  version?: number;
  authority: Authority;
  name: string;
  type: (typeof types)[number];
  platforms: (typeof platforms)[number][];
  settings: string;
  groups: string;
}

const empty: Draft = { authority: 'intune', name: '', type: 'configuration', platforms: [], settings: '{}', groups: '' };

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, maxWidth: '640px', padding: tokens.spacingHorizontalL },
  row: { display: 'flex', gap: tokens.spacingHorizontalM, flexWrap: 'wrap' },
});

/** R7: configuration profiles and compliance policies per authority: create, open by id, edit, delete, assign to groups. */
export default function ConfigurationsPage() {
  const { tenantId } = useTenant();
  const styles = useStyles();
  const [draft, setDraft] = useState<Draft>(empty);
  const [saved, setSaved] = useState<Draft[]>([]);
  const [settingsError, setSettingsError] = useState<string>();

  const save = useMutation({
    mutationFn: (d: Draft) => {
      const body = {
        name: d.name,
        type: d.type,
        platforms: d.platforms,
        settings: JSON.parse(d.settings) as Record<string, unknown>,
        assignedGroupIds: d.groups.split(/[\s,]+/).filter(Boolean),
      };
      return d.configurationId
        ? call(
            api.PUT('/api/v1/tenants/{tenantId}/authorities/{authority}/configurations/{configurationId}', {
              params: { path: { tenantId, authority: d.authority, configurationId: d.configurationId } },
              body: { ...body, expectedVersion: d.version },
            }),
          )
        : call(api.POST('/api/v1/tenants/{tenantId}/authorities/{authority}/configurations', { params: { path: { tenantId, authority: d.authority } }, body }));
    },
    onSuccess: (c, d) => {
      const stored = { ...d, configurationId: c.configurationId, version: c.version };
      setSaved((list) => [stored, ...list.filter((x) => x.configurationId !== c.configurationId)]);
      setDraft(empty);
    },
  });
  const remove = useMutation({
    mutationFn: (d: Draft) =>
      call(
        api.DELETE('/api/v1/tenants/{tenantId}/authorities/{authority}/configurations/{configurationId}', {
          params: { path: { tenantId, authority: d.authority, configurationId: d.configurationId! } },
        }),
      ),
    onSuccess: (_, d) => setSaved((list) => list.filter((x) => x.configurationId !== d.configurationId)),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    try {
      JSON.parse(draft.settings);
      setSettingsError(undefined);
    } catch {
      setSettingsError('settings must be a JSON object');
      return;
    }
    save.mutate(draft);
  };

  return (
    <>
      <Title2 as="h2">Configurations and compliance policies</Title2>
      <MessageBar intent="info">
        <MessageBarBody>Create them on the new authority before switching: devices receive them at their first check-in under it.</MessageBarBody>
      </MessageBar>
      <Card>
        <form className={styles.form} onSubmit={submit} aria-label="Configuration">
          <Title3 as="h3">{draft.configurationId ? `Edit ${draft.name}` : 'New configuration'}</Title3>
          <div className={styles.row}>
            <Field label="Authority">
              <Dropdown
                value={draft.authority}
                selectedOptions={[draft.authority]}
                disabled={!!draft.configurationId}
                onOptionSelect={(_, d) => setDraft({ ...draft, authority: d.optionValue as Authority })}
              >
                {authorities.map((a) => (
                  <Option key={a}>{a}</Option>
                ))}
              </Dropdown>
            </Field>
            <Field label="Type">
              <Dropdown value={draft.type} selectedOptions={[draft.type]} onOptionSelect={(_, d) => setDraft({ ...draft, type: d.optionValue as Draft['type'] })}>
                {types.map((t) => (
                  <Option key={t}>{t}</Option>
                ))}
              </Dropdown>
            </Field>
          </div>
          <Field label="Name" required>
            <Input value={draft.name} onChange={(_, d) => setDraft({ ...draft, name: d.value })} />
          </Field>
          <fieldset className={styles.row}>
            <legend>Platforms</legend>
            {platforms.map((p) => (
              <Checkbox
                key={p}
                label={p}
                checked={draft.platforms.includes(p)}
                onChange={(_, d) => setDraft({ ...draft, platforms: d.checked ? [...draft.platforms, p] : draft.platforms.filter((x) => x !== p) })}
              />
            ))}
          </fieldset>
          <Field
            label="Settings (JSON)"
            hint="Compliance policies understand minOsVersion, requireEncryption, blockJailbroken, requirePasscode."
            validationMessage={settingsError}
          >
            <Textarea value={draft.settings} onChange={(_, d) => setDraft({ ...draft, settings: d.value })} resize="vertical" />
          </Field>
          <Field label="Assigned group ids" hint="Separated by commas or spaces.">
            <Input value={draft.groups} onChange={(_, d) => setDraft({ ...draft, groups: d.value })} />
          </Field>
          <ErrorBar error={save.error} title="The configuration was refused" />
          <div className={styles.row}>
            <Button appearance="primary" type="submit" disabled={save.isPending || !draft.name || draft.platforms.length === 0}>
              {draft.configurationId ? 'Save changes' : 'Create configuration'}
            </Button>
            {draft.configurationId && <Button onClick={() => setDraft(empty)}>Cancel editing</Button>}
          </div>
        </form>
      </Card>
      {saved.length > 0 && (
        <Card>
          <CardHeader header={<Title3 as="h3">Saved in this session</Title3>} />
          <Table size="small" aria-label="Saved configurations">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Name</TableHeaderCell>
                <TableHeaderCell>Type</TableHeaderCell>
                <TableHeaderCell>Authority</TableHeaderCell>
                <TableHeaderCell>Version</TableHeaderCell>
                <TableHeaderCell>Actions</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {saved.map((c) => (
                <TableRow key={c.configurationId} data-testid="saved-configuration">
                  <TableCell>{c.name}</TableCell>
                  <TableCell>{c.type}</TableCell>
                  <TableCell>{c.authority}</TableCell>
                  <TableCell>{c.version}</TableCell>
                  <TableCell>
                    <Button size="small" onClick={() => setDraft(c)}>
                      Edit {c.name}
                    </Button>{' '}
                    <Button size="small" onClick={() => remove.mutate(c)} disabled={remove.isPending}>
                      Delete {c.name}
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          <ErrorBar error={remove.error} />
        </Card>
      )}
    </>
  );
}
