import { useState, type FormEvent } from 'react';
import { Button, Card, CardHeader, Checkbox, Field, Input, MessageBar, MessageBarBody, Textarea, Title2, Title3, makeStyles, tokens } from '@fluentui/react-components';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, call, fieldErrors } from '../api/client';
import { Choice } from '../components/Choice';
import { ComplianceSettingsFields, complianceDraftOf, complianceError, complianceSettings, emptyCompliance, type ComplianceDraft } from '../components/ComplianceSettings';
import { DataTable, type Column } from '../components/DataTable';
import { ErrorBar } from '../components/ErrorBar';
import { Pager, usePagedQuery } from '../components/Pager';
import { useTenant } from '../session/session';

const authorities = ['intune', 'office365'] as const;
const types = ['email', 'vpn', 'certificate', 'wifi', 'configuration', 'compliance'] as const;
const platforms = ['ios', 'ipados', 'macos', 'android', 'windows'] as const;
type Authority = (typeof authorities)[number];
type Configuration = Awaited<ReturnType<typeof listConfigurations>>['items'][number];

const listConfigurations = (tenantId: string, authority: Authority, cursor: { cursor?: string }) =>
  call(api.GET('/api/v1/tenants/{tenantId}/authorities/{authority}/configurations', { params: { path: { tenantId, authority }, query: { limit: 50, ...cursor } } }));

interface Draft {
  configurationId?: string;
  version?: number;
  authority: Authority;
  name: string;
  type: (typeof types)[number];
  platforms: (typeof platforms)[number][];
  /** The settings of a profile, as JSON text (their shape is the profile's own). */
  settings: string;
  /** The settings of a compliance policy, as a form. */
  compliance: ComplianceDraft;
  groups: string;
}

const empty: Draft = { authority: 'intune', name: '', type: 'configuration', platforms: [], settings: '{}', compliance: emptyCompliance, groups: '' };

/** A profile's JSON settings, or why they are not an object. */
function parseSettings(text: string): { settings?: Record<string, unknown>; error?: string } {
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return { settings: value as Record<string, unknown> };
  } catch {
    // reported below
  }
  return { error: 'settings must be a JSON object' };
}

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, maxWidth: '640px', padding: tokens.spacingHorizontalL },
  row: { display: 'flex', gap: tokens.spacingHorizontalM, flexWrap: 'wrap' },
});

/** R7: configuration profiles and compliance policies per authority: create, open by id, edit, delete, assign to groups. */
export default function ConfigurationsPage() {
  const { tenantId, abilities } = useTenant();
  const styles = useStyles();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<Draft>(empty);
  const [shown, setShown] = useState<Authority>('intune');
  const [settingsError, setSettingsError] = useState<string>();
  const { pages, page: list } = usePagedQuery(['configurations', tenantId, shown], (cursor) => listConfigurations(tenantId, shown, cursor));
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['configurations', tenantId] });

  const save = useMutation({
    mutationFn: (d: Draft) => {
      const body = {
        name: d.name,
        type: d.type,
        platforms: d.platforms,
        settings: d.type === 'compliance' ? complianceSettings(d.compliance) : parseSettings(d.settings).settings!,
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
    onSuccess: (_, d) => {
      setShown(d.authority);
      setDraft(empty);
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (d: Draft) =>
      call(
        api.DELETE('/api/v1/tenants/{tenantId}/authorities/{authority}/configurations/{configurationId}', {
          params: { path: { tenantId, authority: d.authority, configurationId: d.configurationId! } },
        }),
      ),
    onSuccess: refresh,
  });

  /** The server's refusal of a field, shown on it; the ErrorBar below keeps the code and message. */
  const refused = fieldErrors(save.error);
  const columns: Column<Configuration>[] = [
    { header: 'Name', cell: (c) => c.name },
    { header: 'Type', cell: (c) => c.type },
    { header: 'Platforms', cell: (c) => c.platforms.join(', ') },
    { header: 'Groups', cell: (c) => c.assignedGroupIds.length },
    { header: 'Version', cell: (c) => c.version },
  ];
  if (abilities.administer) {
    columns.push({
      header: 'Actions',
      cell: (c) => (
        <>
          <Button
            size="small"
            onClick={() => {
              save.reset();
              setSettingsError(undefined);
              setDraft({ ...c, settings: JSON.stringify(c.settings), compliance: complianceDraftOf(c.settings), groups: c.assignedGroupIds.join(', ') });
            }}
          >
            Edit {c.name}
          </Button>{' '}
          <Button size="small" onClick={() => remove.mutate({ ...empty, authority: c.authority, configurationId: c.configurationId })} disabled={remove.isPending}>
            Delete {c.name}
          </Button>
        </>
      ),
    });
  }

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const error = draft.type === 'compliance' ? complianceError(draft.compliance) : parseSettings(draft.settings).error;
    setSettingsError(error);
    if (!error) save.mutate(draft);
  };

  return (
    <>
      <Title2 as="h2">Configurations and compliance policies</Title2>
      <MessageBar intent="info">
        <MessageBarBody>Create them on the new authority before switching: devices receive them at their first check-in under it.</MessageBarBody>
      </MessageBar>
      {abilities.administer && (
        <Card>
          <form className={styles.form} onSubmit={submit} aria-label="Configuration">
            <Title3 as="h3">{draft.configurationId ? `Edit ${draft.name}` : 'New configuration'}</Title3>
            <div className={styles.row}>
              <Field label="Authority">
                <Choice
                  value={draft.authority}
                  options={authorities}
                  disabled={!!draft.configurationId}
                  onChange={(authority) => setDraft({ ...draft, authority })}
                />
              </Field>
              <Field label="Type">
                <Choice value={draft.type} options={types} onChange={(type) => setDraft({ ...draft, type })} />
              </Field>
            </div>
            <Field label="Name" required validationMessage={refused.name}>
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
            {draft.type === 'compliance' ? (
              <ComplianceSettingsFields value={draft.compliance} onChange={(compliance) => setDraft({ ...draft, compliance })} serverErrors={refused} />
            ) : (
              <Field label="Settings (JSON)" validationMessage={settingsError ?? refused.settings}>
                <Textarea value={draft.settings} onChange={(_, d) => setDraft({ ...draft, settings: d.value })} resize="vertical" />
              </Field>
            )}
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
      )}
      <Card>
        <CardHeader header={<Title3 as="h3">Configurations of {shown}</Title3>} />
        <div className={styles.form}>
          <Field label="Authority shown">
            <Choice
              value={shown}
              options={authorities}
              onChange={(authority) => {
                setShown(authority);
                pages.reset();
              }}
            />
          </Field>
          <ErrorBar error={list.error ?? remove.error} />
          <DataTable label="Configurations" rows={list.data?.items ?? []} rowKey={(c) => c.configurationId} rowTestId="configuration-row" columns={columns} />
          <Pager pages={pages} nextCursor={list.data?.nextCursor} />
        </div>
      </Card>
    </>
  );
}
