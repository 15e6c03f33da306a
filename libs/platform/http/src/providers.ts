/**
 * Injection tokens for the platform parts that are interfaces, not classes: each class asks for the
 * part it uses, with its own type (`@Inject(SERVICE_CONFIG) config: EnrollmentConfig`), instead of
 * taking the whole ServiceRuntime. Classes (Database, EventStore, EventRegistry, CallSigner,
 * Metrics, Sweeps, ReadYourWrites) are their own tokens.
 */
export const SERVICE_CONFIG = 'mdm:service-config';
export const CLOCK = 'mdm:clock';
export const LOGGER = 'mdm:logger';
export const KAFKA = 'mdm:kafka';
