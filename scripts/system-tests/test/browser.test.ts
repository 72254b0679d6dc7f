import test from 'ava';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

import type { Page } from 'playwright-core';

import { TestEnvironment, call, freePort } from '@shop/test-harness';

import { REPO_ROOT, reportMissingTool, startSystem, type RunningSystem } from '../src';
import { chromiumInstalled, launchChromium, type Browser } from '../src/browser';

/** Screenshots of this test (gitignored); one of them is copied to docs/images/ for the README. */
const OUTPUT_DIR = path.join(REPO_ROOT, 'scripts/system-tests/output/browser');

/** The management UI of the local broker, when its plugin is enabled. */
const MANAGEMENT_URL = 'http://127.0.0.1:15672';

/** Generous: two services, a browser and the suite share two cores. */
const UI_TIMEOUT_MS = 30_000;

/** The management UI lists what its statistics have seen, refreshed every 5 s: allow several rounds. */
const MANAGEMENT_REFRESH_TIMEOUT_MS = 60_000;

let env: TestEnvironment | undefined;
let system: RunningSystem | undefined;
let browser: Browser | undefined;

const credentials = { username: `browser_${process.pid}`, password: 'through-the-docs-42' };

if (chromiumInstalled()) {
  test.before(async () => {
    env = await TestEnvironment.start();
    // The docs' origin must be known before user-service starts: its CORS allows exactly it.
    const [userPort, productPort] = [await freePort(), await freePort()];
    system = await startSystem(env, {
      user: { PORT: String(userPort), CORS_ORIGINS: `http://127.0.0.1:${productPort}` },
      product: { PORT: String(productPort), USER_SERVICE_PUBLIC_URL: `http://127.0.0.1:${userPort}` },
    });
    const registered = await call(system.user.baseUrl, 'POST', '/register', { json: credentials });
    if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
    await mkdir(OUTPUT_DIR, { recursive: true });
    browser = await launchChromium();
  });

  test.after.always(async () => {
    await browser?.close();
    await system?.stop();
    await env?.close();
  });

  test.serial(
    'product-service /docs → Authorize with a username and password at user-service, then POST /products → 201 shown with the product',
    async (t) => {
      const { page, cspViolations } = await openPage(`${running().product.baseUrl}/docs/`);

      await page.locator('.swagger-ui .btn.authorize').first().click();
      const oauth = page.locator('.auth-container', { hasText: 'OAuth2PasswordBearer' });
      await oauth.locator('#oauth_username').fill(credentials.username);
      await oauth.locator('#oauth_password').fill(credentials.password);
      // Back to the dialog's top, so the screenshot shows the flow's name and token URL too.
      await page.locator('.modal-ux-content').evaluate('(dialog) => dialog.scrollTo(0, 0)');
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'swagger-authorize.png') });
      await oauth.locator('button.authorize').click();
      await oauth.locator('button', { hasText: 'Logout' }).waitFor({ timeout: UI_TIMEOUT_MS });
      t.regex((await oauth.textContent()) ?? '', /Authorized/);
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'swagger-authorized.png') });
      await oauth.locator('button.btn-done').click();

      const operation = page.locator('#operations-products-createProduct');
      await operation.locator('.opblock-summary').click();
      await operation.getByRole('button', { name: 'Try it out' }).click();
      const name = `Browser-made lamp ${process.pid}`;
      await operation
        .locator('textarea.body-param__text')
        .fill(JSON.stringify({ name, description: 'Made in Swagger UI', price: 12.5, quantity: 3 }));
      await operation.getByRole('button', { name: 'Execute' }).click();

      const response = operation.locator('.live-responses-table .response').first();
      await response.locator('.response-col_status').getByText('201').waitFor({ timeout: UI_TIMEOUT_MS });
      const shown = (await response.locator('.response-col_description').textContent()) ?? '';
      t.regex(shown, new RegExp(`"name": "${name}"`));
      await operation.scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'swagger-post-products-201.png'), fullPage: false });

      // The product is stored, owned by the user who logged in through the docs.
      const id = /"id": (\d+)/.exec(shown)?.[1];
      const stored = await call<{ name: string; owner_id: number }>(
        running().product.baseUrl,
        'GET',
        `/products/${id ?? 'none'}`,
      );
      t.is(stored.status, 200);
      t.is(stored.body.name, name);
      t.deepEqual(cspViolations, []);
    },
  );

  test.serial('product-service /redoc → ReDoc from the local bundle lists the operations', async (t) => {
    const { page, cspViolations, loaded } = await openPage(`${running().product.baseUrl}/redoc`);

    for (const summary of [
      'List products, ordered by id',
      'Create a product owned by the caller',
      'Get one product',
      'Delete a product',
    ]) {
      await page.locator('h2', { hasText: summary }).first().waitFor({ timeout: UI_TIMEOUT_MS });
    }
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'redoc.png') });
    // Everything the page loaded came from product-service itself: no CDN.
    const origin = new URL(running().product.baseUrl).origin;
    t.deepEqual(
      loaded.filter((url) => !url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:')),
      [],
    );
    // The bundle's "API docs by Redocly" footer points its logo at Redocly's CDN: the CSP blocks
    // it (and ReDoc then hides the image). Nothing else may be refused.
    t.deepEqual(
      cspViolations.filter((violation) => !violation.includes('https://cdn.redoc.ly/redoc/logo-mini.svg')),
      [],
    );
    t.pass('every operation is shown');
  });

  test.serial(
    "RabbitMQ management UI → both services' named connections and the RPC queue with its consumer",
    async (t) => {
      const reachable = await fetch(MANAGEMENT_URL).then(
        (response) => response.ok,
        () => false,
      );
      if (!reachable) {
        t.log(
          `skipped: the management plugin is not enabled on the local broker (${MANAGEMENT_URL} does not answer); ` +
            'enable it with `rabbitmq-plugins enable rabbitmq_management`',
        );
        t.pass();
        return;
      }
      const { user, product, queue } = running();
      const { page } = await openPage(`${MANAGEMENT_URL}/`);
      await page.locator('input[name="username"]').fill('guest');
      await page.locator('input[name="password"]').fill('guest');
      await page.locator('input[type="submit"]').click();
      await page.locator('#logout').waitFor({ timeout: UI_TIMEOUT_MS });

      for (const service of [user, product]) {
        const name = `${service.name}@${hostname()}/${service.pid}`;
        await page.goto(`${MANAGEMENT_URL}/#/connections`);
        await page.getByText(name, { exact: true }).waitFor({ timeout: MANAGEMENT_REFRESH_TIMEOUT_MS });
        t.pass(`connection ${name} listed`);
      }
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'management-connections.png') });

      await page.goto(`${MANAGEMENT_URL}/#/queues/${encodeURIComponent('/')}/${encodeURIComponent(queue)}`);
      // One consumer: user-service's responder.
      await page.getByText('Consumers (1)').click({ timeout: MANAGEMENT_REFRESH_TIMEOUT_MS });
      const consumer = page.locator('table', { hasText: 'Consumer tag' }).locator('tbody tr').first();
      await consumer.waitFor({ timeout: MANAGEMENT_REFRESH_TIMEOUT_MS });
      t.regex((await consumer.textContent()) ?? '', /amq\.ctag/);
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'management-rpc-queue.png'), fullPage: true });
    },
  );
} else {
  reportMissingTool('browser checks', {
    onCi: "Chromium is not installed at /usr/bin/chromium on CI (.ci/run installs Debian's chromium)",
    here: 'Chromium is not installed at /usr/bin/chromium (apt-get install chromium)',
  });
}

function running(): RunningSystem {
  if (!system) throw new Error('the system has not started');
  return system;
}

/** A new tab at `url`, recording CSP violations and every URL the page loads. */
async function openPage(url: string): Promise<{ page: Page; cspViolations: string[]; loaded: string[] }> {
  if (!browser) throw new Error('the browser has not started');
  const page = await browser.context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  const cspViolations: string[] = [];
  const loaded: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  // Loaded, not merely attempted: a request the CSP blocks never gets a response.
  page.on('response', (response) => loaded.push(response.url()));
  await page.goto(url);
  return { page, cspViolations, loaded };
}
