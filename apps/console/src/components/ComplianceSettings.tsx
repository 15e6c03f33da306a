import { Field, Input, Switch, makeStyles, tokens } from '@fluentui/react-components';

/** A compliance policy's settings as the contract knows them (every one optional). */
export interface ComplianceDraft {
  minOsVersion: string;
  requireEncryption: boolean;
  blockJailbroken: boolean;
  requirePasscode: boolean;
}

export const emptyCompliance: ComplianceDraft = { minOsVersion: '', requireEncryption: false, blockJailbroken: false, requirePasscode: false };

/** The contract's rule for a version (complianceSettingsSchema): checked here so the admin sees it before sending. */
const VERSION = /^\d+(\.\d+)*$/;

export function complianceDraftOf(settings: Record<string, unknown>): ComplianceDraft {
  return {
    minOsVersion: typeof settings.minOsVersion === 'string' ? settings.minOsVersion : '',
    requireEncryption: settings.requireEncryption === true,
    blockJailbroken: settings.blockJailbroken === true,
    requirePasscode: settings.requirePasscode === true,
  };
}

/** The settings to send; an empty minimum version is no minimum. */
export function complianceSettings({ minOsVersion, ...rules }: ComplianceDraft): Record<string, unknown> {
  const version = minOsVersion.trim();
  return version ? { minOsVersion: version, ...rules } : rules;
}

export const complianceError = (d: ComplianceDraft) => (d.minOsVersion.trim() && !VERSION.test(d.minOsVersion.trim()) ? 'a dotted version such as 16.4.1' : undefined);

const useStyles = makeStyles({ group: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS } });

const rules: { key: Exclude<keyof ComplianceDraft, 'minOsVersion'>; label: string }[] = [
  { key: 'requireEncryption', label: 'Require encryption' },
  { key: 'blockJailbroken', label: 'Block jailbroken or rooted devices' },
  { key: 'requirePasscode', label: 'Require a passcode' },
];

/**
 * R24's rules of a compliance policy. `serverErrors` are the API's per-field refusals (400
 * VALIDATION_FAILED), shown on the field they name.
 */
export function ComplianceSettingsFields({ value, onChange, serverErrors }: { value: ComplianceDraft; onChange(next: ComplianceDraft): void; serverErrors: Record<string, string> }) {
  const styles = useStyles();
  const versionError = complianceError(value) ?? serverErrors['settings.minOsVersion'];
  return (
    <fieldset className={styles.group}>
      <legend>Compliance rules</legend>
      <Field label="Minimum OS version" hint="Empty for no minimum; for example 16.4.1." validationMessage={versionError} validationState={versionError ? 'error' : 'none'}>
        <Input value={value.minOsVersion} onChange={(_, d) => onChange({ ...value, minOsVersion: d.value })} />
      </Field>
      {rules.map(({ key, label }) => (
        <Field key={key} validationMessage={serverErrors[`settings.${key}`]}>
          <Switch label={label} checked={value[key]} onChange={(_, d) => onChange({ ...value, [key]: d.checked })} />
        </Field>
      ))}
    </fieldset>
  );
}
