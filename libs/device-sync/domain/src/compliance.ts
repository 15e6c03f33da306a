import { Platform } from '@mdm/contracts/authority';

export interface ReportedState {
  osVersion: string;
  encrypted: boolean;
  jailbroken: boolean;
  passcodeSet: boolean;
}

export interface ComplianceReason {
  setting: string;
  expected: unknown;
  actual: unknown;
}

export interface ComplianceResult {
  state: 'compliant' | 'noncompliant' | 'notEvaluated';
  reasons: ComplianceReason[];
}

export interface CompliancePolicy {
  settings: Record<string, unknown>;
}

/** Compares dotted versions numerically: 16.10 is after 16.9; a missing part counts as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** R25: every policy assigned to the user is checked against what the device reported. */
export function evaluateCompliance(policies: CompliancePolicy[], state: ReportedState): ComplianceResult {
  if (policies.length === 0) return { state: 'notEvaluated', reasons: [] };
  const reasons: ComplianceReason[] = [];
  for (const { settings } of policies) {
    const { minOsVersion, requireEncryption, blockJailbroken, requirePasscode } = settings as Partial<{
      minOsVersion: string;
      requireEncryption: boolean;
      blockJailbroken: boolean;
      requirePasscode: boolean;
    }>;
    if (minOsVersion !== undefined && compareVersions(state.osVersion, minOsVersion) < 0) {
      reasons.push({ setting: 'minOsVersion', expected: minOsVersion, actual: state.osVersion });
    }
    if (requireEncryption && !state.encrypted) reasons.push({ setting: 'requireEncryption', expected: true, actual: false });
    if (blockJailbroken && state.jailbroken) reasons.push({ setting: 'blockJailbroken', expected: false, actual: true });
    if (requirePasscode && !state.passcodeSet) reasons.push({ setting: 'requirePasscode', expected: true, actual: false });
  }
  const unique = reasons.filter((r, i) => reasons.findIndex((o) => o.setting === r.setting && o.expected === r.expected) === i);
  return { state: unique.length ? 'noncompliant' : 'compliant', reasons: unique };
}

export const appliesTo = (platforms: string[], platform: Platform) => platforms.includes(platform);

/** A compliance policy as a device keeps it between check-ins. */
export interface HeldPolicy extends CompliancePolicy {
  configurationId: string;
}

export interface DeviceCompliance extends ComplianceResult {
  source: 'intune' | 'office365' | 'configMgr';
}

/**
 * R25: the managing authority's policies assigned to the device judge it; co-managed Windows devices
 * with the compliance workload on Configuration Manager are its to judge (notEvaluated here).
 */
export function deviceCompliance(
  coManagement: { enabled: boolean; workloads: Record<string, string> },
  platform: Platform,
  managedBy: 'intune' | 'office365',
  policies: CompliancePolicy[],
  state: ReportedState,
): DeviceCompliance {
  if (platform === 'windows' && coManagement.enabled && coManagement.workloads.compliancePolicies === 'configMgr') {
    return { state: 'notEvaluated', reasons: [], source: 'configMgr' };
  }
  return { ...evaluateCompliance(policies, state), source: managedBy };
}
