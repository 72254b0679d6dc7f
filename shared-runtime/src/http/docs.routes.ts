import path from 'node:path';

import express, { Router, type RequestHandler } from 'express';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';

/** Where the ReDoc page loads its bundle from: a file of the `redoc` package, served here (no CDN). */
export const REDOC_BUNDLE_PATH = '/redoc/redoc.standalone.js';

/** The folder of ReDoc's standalone bundle in the installed `redoc` package. */
const REDOC_BUNDLES_DIR = path.dirname(require.resolve('redoc/bundles/redoc.standalone.js'));

/** The bundle changes only with the package version: browsers may keep it a day. */
const REDOC_BUNDLE_MAX_AGE_MS = 86_400_000;

/**
 * `GET /openapi.json`, the Swagger UI at `GET /docs` and ReDoc at `GET /redoc`, titled
 * `<service> API`. Both pages run under a Content-Security-Policy of their own that adds to the
 * app's only what they need (see {@link docsPageCsp}).
 */
export function createDocsRouter(document: object, service: string): Router {
  const router = Router();
  const title = `${service} API`;
  const pageCsp = docsPageCsp(tokenUrlOrigins(document));

  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });

  router.use('/docs', pageCsp, swaggerUi.serve);
  router.get('/docs', swaggerUi.setup(document, { customSiteTitle: title }));

  router.get('/redoc', pageCsp, (_req, res) => {
    res.type('html').send(redocPage(title));
  });
  router.use(
    '/redoc',
    express.static(REDOC_BUNDLES_DIR, { index: false, redirect: false, maxAge: REDOC_BUNDLE_MAX_AGE_MS }),
  );
  return router;
}

/**
 * The docs pages' CSP: helmet's defaults (what every response gets) plus
 * - `connect-src` the origins of the document's OAuth2 token URLs, so Swagger UI's Authorize can
 *   post the password form to user-service when it is another origin (product-service's docs);
 * - `worker-src blob:`, for ReDoc's search index, which runs in a Web Worker made from a Blob
 *   (without it ReDoc falls back to the main thread and logs a CSP violation on every page).
 * Scripts stay `'self'` only: both pages load their scripts from this service, nothing inline.
 */
function docsPageCsp(connectOrigins: readonly string[]): RequestHandler {
  return helmet.contentSecurityPolicy({
    directives: {
      upgradeInsecureRequests: null,
      connectSrc: ["'self'", ...connectOrigins],
      workerSrc: ["'self'", 'blob:'],
    },
  });
}

/** The origins of every OAuth2 flow's `tokenUrl` in the document that are absolute URLs. */
function tokenUrlOrigins(document: object): string[] {
  const schemes = (document as { components?: { securitySchemes?: Record<string, unknown> } }).components
    ?.securitySchemes;
  const origins = new Set<string>();
  for (const scheme of Object.values(schemes ?? {})) {
    const flows = (scheme as { type?: string; flows?: Record<string, { tokenUrl?: unknown }> }).flows;
    for (const flow of Object.values(flows ?? {})) {
      if (typeof flow.tokenUrl === 'string' && URL.canParse(flow.tokenUrl)) origins.add(new URL(flow.tokenUrl).origin);
    }
  }
  return [...origins];
}

/** ReDoc's page: the standalone bundle initialises itself from the `<redoc spec-url>` element. */
function redocPage(title: string): string {
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(title)}</title>
  </head>
  <body style="margin: 0">
    <redoc spec-url="/openapi.json"></redoc>
    <script src="${REDOC_BUNDLE_PATH}"></script>
  </body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
