import test from 'ava';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

import { TestEnvironment } from '@shop/test-harness';

import {
  reportMissingTool,
  ALERT_RULES_FILE,
  PrometheusServer,
  dashboardQueries,
  eventually,
  prometheusInstalled,
  startSystem,
  withRateInterval,
  type RunningSystem,
} from '../src';

const TITLE =
  'a real Prometheus scraping both running services → a non-empty answer for every dashboard query on their metrics';

/** Queries on the RabbitMQ plugin's series: the shared test broker's plugin is not ours to scrape or enable. */
const BROKER_SERIES = /rabbitmq_/;

async function exercise(system: RunningSystem): Promise<void> {
  const headers = { 'content-type': 'application/json' };
  const credentials = JSON.stringify({ username: 'scraped_user', password: 'scraped-password-1' });
  await fetch(`${system.user.baseUrl}/register`, { method: 'POST', headers, body: credentials });
  const login = async () => {
    const response = await fetch(`${system.user.baseUrl}/login`, { method: 'POST', headers, body: credentials });
    return ((await response.json()) as { access_token: string }).access_token;
  };
  const token = await login();
  // Two writes with one token: an RPC, then a cache hit.
  for (const name of ['first', 'second']) {
    const response = await fetch(`${system.product.baseUrl}/products`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${token}` },
      body: JSON.stringify({ name, price: 1.5, quantity: 1 }),
    });
    if (response.status !== 201) throw new Error(`POST /products answered ${response.status}`);
  }
  await fetch(`${system.product.baseUrl}/products`);
  // A logout: user-service publishes an auth event, product-service receives it.
  const other = await login();
  await fetch(`${system.user.baseUrl}/logout`, { method: 'POST', headers: { authorization: `Bearer ${other}` } });
}

if (prometheusInstalled()) {
  test(TITLE, async (t) => {
    const env = await TestEnvironment.start();
    t.teardown(() => env.close());
    const system = await startSystem(env);
    t.teardown(() => system.stop());
    await exercise(system);

    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [ALERT_RULES_FILE],
      scrape_configs: [
        { job_name: 'user-service', static_configs: [{ targets: [`127.0.0.1:${system.user.port}`] }] },
        { job_name: 'product-service', static_configs: [{ targets: [`127.0.0.1:${system.product.port}`] }] },
      ],
    };
    const prometheus = await PrometheusServer.start(stringify(config));
    t.teardown(() => prometheus.stop());

    // The rules file loads into a real server, not only into promtool.
    const { groups } = await prometheus.api<{ groups: { rules: unknown[] }[] }>('rules');
    const inFile = (parse(readFileSync(ALERT_RULES_FILE, 'utf8')) as { groups: { rules: unknown[] }[] }).groups;
    t.is(groups.flatMap((group) => group.rules).length, inFile.flatMap((group) => group.rules).length);

    const queries = dashboardQueries().filter((query) => !BROKER_SERIES.test(query.expr));
    t.log(
      `${queries.length} queries checked; skipped (RabbitMQ plugin series): ${dashboardQueries().length - queries.length}`,
    );
    const answered = new Set<string>();
    const key = (query: { panelId: number; refId: string }) => `${query.panelId}${query.refId}`;
    // rate() needs two samples of a series in its window: a few scrapes after the traffic above.
    await eventually(
      async () => {
        for (const query of queries) {
          if (answered.has(key(query))) continue;
          const result = await prometheus.query(withRateInterval(query.expr, '1m'));
          if (result.length > 0) answered.add(key(query));
        }
        return answered.size === queries.length;
      },
      60_000,
      'an answer to every query',
      500,
    ).catch(() => undefined);
    for (const query of queries) {
      t.true(answered.has(key(query)), `${query.panel} [${query.refId}]: ${query.expr}`);
    }
    const up = await prometheus.query('up{job=~"user-service|product-service"} == 1');
    t.is(up.length, 2, 'both services scraped');
  });
} else {
  reportMissingTool(TITLE, {
    onCi: "prometheus is missing on CI (.ci/run installs Debian's prometheus)",
    here: 'prometheus is not installed here (apt-get install prometheus)',
  });
}
