import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify, parse } from 'yaml';

import {
  reportMissingTool,
  ALERT_RULES_FILE,
  ALERT_RULES_TEST_FILE,
  OBSERVABILITY_DIR,
  PROMETHEUS_CONFIG_FILE,
  dashboardQueries,
  prometheusInstalled,
  promtool,
  withRateInterval,
} from '../src';

const installed = prometheusInstalled();

/** Registers `title`, or a failure on CI / a skip elsewhere when promtool is missing. */
function promtoolTest(title: string, body: (t: ExecutionContext) => Promise<void>): void {
  if (installed) test(title, body);
  else
    reportMissingTool(title, {
      onCi: "promtool is missing on CI (.ci/run installs Debian's prometheus)",
      here: 'promtool is not installed here (apt-get install prometheus)',
    });
}

interface RulesFile {
  groups: { rules: { alert?: string; expr: string }[] }[];
}

interface RulesTestFile {
  tests: { name: string; alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
}

promtoolTest('alert-rules.yml → promtool check rules', async (t) => {
  const rules = (parse(readFileSync(ALERT_RULES_FILE, 'utf8')) as RulesFile).groups.flatMap((group) => group.rules);
  t.true(rules.length > 0);
  t.regex(await promtool(['check', 'rules', ALERT_RULES_FILE]), new RegExp(`SUCCESS: ${rules.length} rules found`));
});

promtoolTest(
  'alert-rules.test.yml → promtool test rules: every alert fires when it should and not before',
  async (t) => {
    t.regex(await promtool(['test', 'rules', path.basename(ALERT_RULES_TEST_FILE)], OBSERVABILITY_DIR), /SUCCESS/);
  },
);

test('alert-rules.test.yml → covers every alert of alert-rules.yml with a firing case and an earlier silent one', (t) => {
  const rules = parse(readFileSync(ALERT_RULES_FILE, 'utf8')) as RulesFile;
  const tests = parse(readFileSync(ALERT_RULES_TEST_FILE, 'utf8')) as RulesTestFile;
  const alerts = rules.groups.flatMap((group) => group.rules.flatMap((rule) => (rule.alert ? [rule.alert] : [])));
  t.deepEqual(alerts, [
    'TokenValidationFailing',
    'TokenValidationSlow',
    'NoTokenValidationConsumer',
    'BrokerFlapping',
    'OutboxStuck',
    'OutboxEventParked',
    'AuthEventsNotConsumed',
    'BrokerBlockingPublishes',
    'LoadShedding',
    'ForgedBrokerMessages',
    'DatabasePoolSaturated',
    'ServiceNotReady',
  ]);
  const cases = tests.tests.flatMap((group) => group.alert_rule_test);
  for (const alert of alerts) {
    const ofAlert = cases.filter((candidate) => candidate.alertname === alert);
    t.true(
      ofAlert.some((candidate) => candidate.exp_alerts.length > 0),
      `${alert}: a case where it fires`,
    );
    t.true(
      ofAlert.some((candidate) => candidate.exp_alerts.length === 0),
      `${alert}: a case where it does not (yet)`,
    );
  }
});

test('docs/operations.md → points at the rules file instead of keeping a copy that could drift', (t) => {
  const operations = readFileSync(path.join(OBSERVABILITY_DIR, '../../docs/operations.md'), 'utf8');
  t.true(operations.includes('deploy/observability/alert-rules.yml'));
  t.false(operations.includes('alert: TokenValidationFailing'), 'no second copy of the rules');
});

promtoolTest('prometheus.yml of the compose profile → promtool check config', async (t) => {
  t.regex(await promtool(['check', 'config', PROMETHEUS_CONFIG_FILE]), /SUCCESS/);
});

promtoolTest('every PromQL query of the Grafana dashboard → valid for promtool (as recording rules)', async (t) => {
  const queries = dashboardQueries();
  t.true(queries.length >= 20, `the dashboard has its queries (${queries.length})`);
  const folder = await mkdtemp(path.join(tmpdir(), 'dashboard-rules-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  const file = path.join(folder, 'dashboard-queries.yml');
  const rules = queries.map((query) => ({
    record: `dashboard:panel_${query.panelId}_${query.refId}`,
    expr: withRateInterval(query.expr, '5m'),
  }));
  await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
  t.regex(await promtool(['check', 'rules', file]), new RegExp(`SUCCESS: ${rules.length} rules found`));
});
