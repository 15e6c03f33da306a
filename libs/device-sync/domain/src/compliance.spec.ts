import { compareVersions, evaluateCompliance } from './compliance';

const healthy = { osVersion: '17.4.1', encrypted: true, jailbroken: false, passcodeSet: true };

describe('compliance (pure)', () => {
  it('R25: versions compare numerically, part by part', () => {
    expect(compareVersions('16.10', '16.9')).toBe(1);
    expect(compareVersions('16.4', '16.4.0')).toBe(0);
    expect(compareVersions('9.3.5', '10')).toBe(-1);
  });

  it('R25: no policy is notEvaluated; a policy met is compliant', () => {
    expect(evaluateCompliance([], healthy)).toEqual({ state: 'notEvaluated', reasons: [] });
    const policy = { settings: { minOsVersion: '17.4', requireEncryption: true, blockJailbroken: true, requirePasscode: true } };
    expect(evaluateCompliance([policy], healthy)).toEqual({ state: 'compliant', reasons: [] });
  });

  it('R25: every failed setting is a reason { setting, expected, actual }', () => {
    const policy = { settings: { minOsVersion: '17.10', requireEncryption: true, blockJailbroken: true, requirePasscode: true } };
    const result = evaluateCompliance([policy], { osVersion: '17.9', encrypted: false, jailbroken: true, passcodeSet: false });
    expect(result).toEqual({
      state: 'noncompliant',
      reasons: [
        { setting: 'minOsVersion', expected: '17.10', actual: '17.9' },
        { setting: 'requireEncryption', expected: true, actual: false },
        { setting: 'blockJailbroken', expected: false, actual: true },
        { setting: 'requirePasscode', expected: true, actual: false },
      ],
    });
  });
});
