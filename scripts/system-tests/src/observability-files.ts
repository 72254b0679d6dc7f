import { readFileSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from './service-process';

/** Where the compose profile `observability` keeps its configuration. */
export const OBSERVABILITY_DIR = path.join(REPO_ROOT, 'deploy/observability');
export const ALERT_RULES_FILE = path.join(OBSERVABILITY_DIR, 'alert-rules.yml');
export const ALERT_RULES_TEST_FILE = path.join(OBSERVABILITY_DIR, 'alert-rules.test.yml');
export const PROMETHEUS_CONFIG_FILE = path.join(OBSERVABILITY_DIR, 'prometheus.yml');
export const DASHBOARD_FILE = path.join(OBSERVABILITY_DIR, 'grafana/dashboards/rabbitmq-rpc-shop.json');

/** One query of the dashboard: the panel it draws in and its PromQL as Grafana sends it. */
export interface DashboardQuery {
  panelId: number;
  panel: string;
  refId: string;
  expr: string;
}

interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  targets?: { refId: string; expr: string }[];
  panels?: DashboardPanel[];
}

/** Every PromQL query of the dashboard, collapsed rows included. */
export function dashboardQueries(): DashboardQuery[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: DashboardPanel[] };
  const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  return panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      panelId: panel.id,
      panel: panel.title,
      refId: target.refId,
      expr: target.expr,
    })),
  );
}

/** `expr` as Prometheus itself takes it: Grafana's `$__rate_interval` becomes `window`. */
export function withRateInterval(expr: string, window: string): string {
  return expr.replaceAll('$__rate_interval', window);
}
