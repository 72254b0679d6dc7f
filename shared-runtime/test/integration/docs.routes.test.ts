import test, { type ExecutionContext } from 'ava';

import { call } from '@shop/test-harness';

import { createLogger, ServiceMetrics } from '../../src';
import { createHttpApp, oauth2PasswordScheme } from '../../src/http';
import { serve } from '../helpers/http';

/** A document whose Swagger UI logs in at another origin, as product-service's does at user-service. */
const DOCUMENT = {
  openapi: '3.1.0',
  info: { title: 'test-service', version: 'test' },
  paths: {},
  components: { securitySchemes: oauth2PasswordScheme('https://users.shop.example/login') },
};

async function serveDocs(t: ExecutionContext): Promise<string> {
  const app = createHttpApp({
    service: 'test-service',
    version: 'test',
    http: { trustProxyHops: 0, corsOrigins: [], bodyLimitBytes: 102_400 },
    logger: createLogger({ level: 'silent', service: 'test-service', version: 'test' }),
    metrics: new ServiceMetrics({ service: 'test-service', collectProcessMetrics: false }),
    corsMethods: ['GET'],
    routers: [],
    healthChecks: [],
    isAcceptingTraffic: () => true,
    openApiDocument: DOCUMENT,
  });
  return serve(t, app);
}

/** The CSP's directives by name: `{ 'connect-src': ["'self'", …] }`. */
function cspOf(header: string | null): Record<string, string[]> {
  const directives: Record<string, string[]> = {};
  for (const directive of (header ?? '').split(';')) {
    const [name, ...values] = directive.trim().split(/\s+/);
    if (name) directives[name] = values;
  }
  return directives;
}

test('GET /redoc → a page that runs the locally served ReDoc bundle on /openapi.json, with no inline script', async (t) => {
  const baseUrl = await serveDocs(t);

  const page = await call<string>(baseUrl, 'GET', '/redoc');
  const bundle = await fetch(`${baseUrl}/redoc/redoc.standalone.js`);

  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(page.body, /<title>test-service API<\/title>/);
  t.regex(page.body, /<redoc spec-url="\/openapi.json"><\/redoc>/);
  t.regex(page.body, /<script src="\/redoc\/redoc.standalone.js"><\/script>/);
  t.notRegex(page.body, /<script>/, 'no inline script: the CSP allows none');
  t.notRegex(page.body, /https?:\/\//, 'nothing from another origin');
  t.is(bundle.status, 200);
  t.regex(bundle.headers.get('content-type') ?? '', /javascript/);
  t.regex(await bundle.text(), /Redoc/);
});

test("docs pages → the CSP adds the token URL's origin to connect-src and blob: workers, nothing else", async (t) => {
  const baseUrl = await serveDocs(t);

  const swagger = await call(baseUrl, 'GET', '/docs/');
  const redoc = await call(baseUrl, 'GET', '/redoc');
  const other = await call(baseUrl, 'GET', '/health/live');

  for (const response of [swagger, redoc]) {
    t.is(response.status, 200);
    const csp = cspOf(response.headers.get('content-security-policy'));
    t.deepEqual(csp['connect-src'], ["'self'", 'https://users.shop.example']);
    t.deepEqual(csp['worker-src'], ["'self'", 'blob:']);
    t.deepEqual(csp['script-src'], ["'self'"]);
    t.deepEqual(csp['default-src'], ["'self'"]);
  }
  // Every other response keeps the app's policy: default-src 'self' covers connections and workers.
  const appCsp = cspOf(other.headers.get('content-security-policy'));
  t.is(appCsp['connect-src'], undefined);
  t.is(appCsp['worker-src'], undefined);
  t.deepEqual(appCsp['default-src'], ["'self'"]);
});
