/**
 * R15: a device whose MDM certificate expired this long ago is removed. Enrollment removes it and
 * the views show when it will be: both read this one value.
 */
export const REMOVAL_AFTER_EXPIRY_DAYS = 180;
export const REMOVAL_AFTER_EXPIRY_MS = REMOVAL_AFTER_EXPIRY_DAYS * 86_400_000;
