import test from 'ava';

/** Set by CI services (and `.ci/run`, which installs every tool the tests need): there a missing one fails. */
export const ON_CI = !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase());

/**
 * Registers what stands for the tests titled `title` when a tool they need is missing: on CI one
 * failing test that says so (a check that cannot run must not pass there), elsewhere one skipped
 * test whose title says why.
 */
export function reportMissingTool(title: string, missing: { onCi: string; here: string }): void {
  if (ON_CI) {
    test(title, (t) => {
      t.fail(missing.onCi);
    });
  } else {
    test.skip(`${title} — skipped: ${missing.here}`, () => undefined);
  }
}

/** What the private-broker fault tests (RabbitCluster of the test harness) say without Debian's rabbitmq-server. */
export const MISSING_RABBITMQ_SERVER = {
  onCi: "Debian's rabbitmq-server is not installed on CI (/usr/lib/rabbitmq/bin/rabbitmq-server)",
  here: 'Debian’s rabbitmq-server package is not installed here (/usr/lib/rabbitmq/bin/rabbitmq-server)',
};
