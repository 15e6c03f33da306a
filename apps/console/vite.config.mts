import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = path.dirname(fileURLToPath(import.meta.url));

// `nx build console` writes dist/apps/console, which the gateway serves at `/`; `nx serve console`
// is a dev server that hands the API to a gateway on GATEWAY_URL (default the `npm start` one).
export default defineConfig({
  root,
  plugins: [react()],
  build: {
    outDir: path.resolve(root, '../../dist/apps/console'),
    emptyOutDir: true,
    // The first page stays small: the dashboard's chart and the other pages are split off and loaded on use.
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: { '/api': process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000' },
  },
});
