import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * @peculiar/x509 with node's WebCrypto as its engine. Import it from here, never from the package:
 * the engine is then set before any certificate is made or verified, whichever module loads first.
 */
x509.cryptoProvider.set(webcrypto);

export { x509 };
