import { useState, type FormEvent } from 'react';
import { Button, Card, Field, Input, Title2, makeStyles, tokens } from '@fluentui/react-components';
import { useMutation } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { Choice } from '../components/Choice';
import { ErrorBar } from '../components/ErrorBar';
import { ShownOnce } from '../components/ShownOnce';
import { useTenant } from '../session/session';

const platforms = ['ios', 'ipados', 'macos', 'android', 'windows'] as const;
const enrollmentTypes = ['user', 'ade', 'bulk'] as const;

const useStyles = makeStyles({
  form: { padding: tokens.spacingHorizontalL, display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, maxWidth: '640px' },
});

/** R11–R13: enroll a device; the answer's device credential is shown once. */
export default function EnrollPage() {
  const { tenantId } = useTenant();
  const styles = useStyles();
  const [form, setForm] = useState({
    platform: 'windows' as (typeof platforms)[number],
    enrollmentType: 'user' as (typeof enrollmentTypes)[number],
    userId: '',
    serialNumber: '',
    deviceName: '',
    osVersion: '',
  });
  const enroll = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/tenants/{tenantId}/enrollments', {
          params: { path: { tenantId } },
          body: {
            platform: form.platform,
            enrollmentType: form.enrollmentType,
            serialNumber: form.serialNumber,
            osVersion: form.osVersion,
            ...(form.userId && { userId: form.userId }),
            ...(form.deviceName && { deviceName: form.deviceName }),
          },
        }),
      ),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    enroll.mutate();
  };
  const text = (key: 'userId' | 'serialNumber' | 'deviceName' | 'osVersion', label: string, required = false) => (
    <Field label={label} required={required}>
      <Input value={form[key]} onChange={(_, d) => setForm({ ...form, [key]: d.value })} />
    </Field>
  );
  return (
    <>
      <Title2 as="h2">Enrollment</Title2>
      <Card>
        <form className={styles.form} onSubmit={submit} aria-label="Enroll a device">
          <Field label="Platform">
            <Choice value={form.platform} options={platforms} onChange={(platform) => setForm({ ...form, platform })} />
          </Field>
          <Field label="Enrollment type">
            <Choice value={form.enrollmentType} options={enrollmentTypes} onChange={(enrollmentType) => setForm({ ...form, enrollmentType })} />
          </Field>
          {text('userId', 'User id (none for userless devices)')}
          {text('serialNumber', 'Serial number', true)}
          {text('deviceName', 'Device name')}
          {text('osVersion', 'OS version', true)}
          <ErrorBar error={enroll.error} title="Enrollment refused" />
          <Button appearance="primary" type="submit" disabled={enroll.isPending || !form.serialNumber || !form.osVersion}>
            Enroll device
          </Button>
        </form>
      </Card>
      {enroll.data && (
        <ShownOnce
          title={`Enrolled ${enroll.data.deviceId}, managed by ${enroll.data.managedBy}: device credential`}
          secret={enroll.data.deviceCredential}
          testId="device-credential"
        />
      )}
    </>
  );
}
