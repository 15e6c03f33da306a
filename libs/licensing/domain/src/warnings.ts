/** R10: a switch to Intune while none of the user's groups has an Intune configuration assigned. */
export const NO_INTUNE_CONFIGURATION_ASSIGNED = 'NO_INTUNE_CONFIGURATION_ASSIGNED';

export interface Warning {
  code: string;
  message: string;
}

const messages: Record<string, string> = {
  [NO_INTUNE_CONFIGURATION_ASSIGNED]:
    "none of the user's groups has an Intune configuration assigned: their devices will lose the MDM for Office configuration and receive nothing in its place",
};

/** The answer's form of the warning codes an event carries. */
export const toWarnings = (codes: readonly string[]): Warning[] =>
  codes.map((code) => ({ code, message: messages[code] ?? code }));
