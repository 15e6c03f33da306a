import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type RequestHandler } from 'express';

/** Paths the console never owns: the API, the device API and the services' own endpoints. */
const NOT_CONSOLE = /^\/(api|device)(\/|$)|^\/(health|metrics)$/;

/**
 * Headers for the console's pages. The token lives in the page's session storage, so no script may
 * come from anywhere but here; styles are inline because Fluent UI inserts its rules at run time.
 */
const CONSOLE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * The admin console, built by `nx build console` into `dir`, at `/` on the gateway's origin: its
 * files, and index.html for any other page path so that a reload of a console URL works (the
 * console routes in the browser). Hashed assets are cached for good, index.html never.
 * Without a build it serves nothing and every path goes on as before.
 */
export function consoleFiles(dir: string): RequestHandler | undefined {
  const index = path.join(dir, 'index.html');
  if (!existsSync(index)) return undefined;
  const files = express.static(dir, {
    index: false,
    setHeaders: (res, file) => {
      res.setHeader('cache-control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || NOT_CONSOLE.test(req.path)) return next();
    res.set(CONSOLE_HEADERS);
    files(req, res, () => {
      // A missing asset is a 404, not the page: only page paths fall back to index.html.
      if (req.path.startsWith('/assets/')) return next();
      res.setHeader('cache-control', 'no-cache');
      res.sendFile(index);
    });
  };
}
