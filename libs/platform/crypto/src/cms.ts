import { webcrypto } from 'node:crypto';
import * as pkijs from 'pkijs';

/**
 * pkijs (CMS, PKCS#12) with node's WebCrypto as its engine: outside a browser it has none until one
 * is set. Import it from here, never from the package, so that the engine is set wherever it is used.
 */
pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto }));

export { pkijs };
