/**
 * R23: the profile types a device keeps from its old authority until it checks in after the change
 * (device-sync expires them, the views list them): both read this one list.
 */
export const LEGACY_PROFILE_TYPES: readonly string[] = ['email', 'vpn', 'certificate', 'wifi', 'configuration'];
