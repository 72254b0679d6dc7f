import test from 'ava';
import { createHash } from 'node:crypto';

import type { IScaledObject, ITriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IConfigMap, IContainer, IEnvVar, ISecret, IService } from 'kubernetes-models/v1';

import { CONFIG_VARIABLES as PRODUCT_VARIABLES, loadConfig as loadProductConfig } from '@shop/product-service/config';
import { SHUTDOWN_DEADLINE_MS } from '@shop/shared-runtime';
import { TestEnvironment } from '@shop/test-harness';
import { CONFIG_VARIABLES as USER_VARIABLES, loadConfig as loadUserConfig } from '@shop/user-service/config';

import {
  reportMissingTool,
  dockerfileRuntime,
  kubectlAvailable,
  rabbitmqConfigKeys,
  renderKustomization,
  schemaErrors,
  startSystem,
  type K8sObject,
} from '../src';

const BASE = 'deploy/k8s/base';
const OVERLAY = 'deploy/k8s/overlays/local-trial';

/** What the manifests' test knows of each service: the variables it reads and how it reads them. */
const SERVICES = {
  'user-service': {
    variables: USER_VARIABLES,
    load: (env: Record<string, string>) => {
      const config = loadUserConfig(env);
      return { port: config.http.port, rpcQueue: config.amqp.rpcQueue, amqpUrl: config.amqp.urls.join(',') };
    },
  },
  'product-service': {
    variables: PRODUCT_VARIABLES,
    load: (env: Record<string, string>) => {
      const config = loadProductConfig(env);
      return { port: config.http.port, rpcQueue: config.rpc.queue, amqpUrl: config.amqp.urls.join(',') };
    },
  },
} as const;
type ServiceName = keyof typeof SERVICES;
const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/** The uid of `node` in the images' base (node:20-bookworm-slim), which their Dockerfiles run as. */
const NODE_IMAGE_UID = 1000;

const hasKubectl = kubectlAvailable();

const rendered = new Map<string, Promise<K8sObject[]>>();
/** Each kustomization is rendered once for all the tests below. */
function render(dir: string): Promise<K8sObject[]> {
  let objects = rendered.get(dir);
  if (!objects) {
    objects = renderKustomization(dir);
    rendered.set(dir, objects);
  }
  return objects;
}

const ofKind = <T>(objects: K8sObject[], kind: string): (T & K8sObject)[] =>
  objects.filter((object) => object.kind === kind) as (T & K8sObject)[];

// The caller names the shape of the kind it asks for, as kubernetes-models types it.
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
function named<T>(objects: K8sObject[], kind: string, name: string): T & K8sObject {
  const found = ofKind<T>(objects, kind).find((object) => object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return found;
}

function containerOf(deployment: IDeployment): IContainer {
  const container = deployment.spec?.template.spec?.containers[0];
  if (!container) throw new Error(`${deployment.metadata?.name ?? '?'} has no container`);
  return container;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);

/**
 * A Secret's value as the container would see it: from a Secret in the render, or from the one
 * CloudNativePG writes for a `Cluster` in it (`<cluster>-app`, its `uri` built as the operator's
 * pkg/specs/secrets.go builds it, with a stand-in password).
 */
function secretValue(objects: K8sObject[], name: string, key: string): string | undefined {
  const secret = ofKind<ISecret>(objects, 'Secret').find((object) => object.metadata.name === name);
  if (secret) {
    const data = secret.data?.[key];
    return data === undefined ? secret.stringData?.[key] : Buffer.from(data, 'base64').toString('utf8');
  }
  const cluster = ofKind<{ spec: { bootstrap: { initdb: { database: string; owner: string } } } }>(
    objects,
    'Cluster',
  ).find((object) => `${object.metadata.name}-app` === name);
  if (!cluster || key !== 'uri') return undefined;
  const { database, owner } = cluster.spec.bootstrap.initdb;
  const namespace = cluster.metadata.namespace ?? 'default';
  return `postgresql://${owner}:operator-generated@${cluster.metadata.name}-rw.${namespace}:5432/${database}`;
}

/** The container's environment: its image's `ENV`, then every variable the manifest sets, resolved. */
function containerEnv(objects: K8sObject[], service: ServiceName, container: IContainer) {
  const env: Record<string, string> = { ...dockerfileRuntime(service).env };
  const unresolved: string[] = [];
  for (const variable of container.env ?? ([] as IEnvVar[])) {
    const ref = variable.valueFrom?.secretKeyRef;
    const value = ref ? secretValue(objects, ref.name ?? '', ref.key) : variable.value;
    // An optional key (PREVIOUS_SECRET_KEYS outside a rotation) may be absent: the variable is then unset.
    if (value === undefined && ref?.optional !== true) unresolved.push(variable.name);
    else if (value !== undefined) env[variable.name] = value;
  }
  return { env, unresolved, names: (container.env ?? []).map((variable) => variable.name) };
}

/** RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt(4) ‖ sha256(salt ‖ password)). */
function rabbitPasswordMatches(hash: string, password: string): boolean {
  const bytes = Buffer.from(hash, 'base64');
  const salt = bytes.subarray(0, 4);
  const digest = createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return bytes.length === 36 && digest.equals(bytes.subarray(4));
}

if (!hasKubectl) {
  const title = 'deploy/k8s → renders with `kubectl kustomize`';
  reportMissingTool(title, {
    onCi: 'kubectl is not installed on CI (the machine image ships it)',
    here: 'kubectl is not installed here',
  });
} else {
  for (const dir of [BASE, OVERLAY]) {
    test(`${dir} → renders with \`kubectl kustomize\`, and every object validates against its Kubernetes or CRD schema`, async (t) => {
      const objects = await render(dir);
      t.true(objects.length > 10, `rendered ${objects.length} objects`);
      for (const object of objects) {
        t.deepEqual(schemaErrors(object), [], `${object.kind} ${object.metadata.name}`);
      }
    });
  }

  test('the schema check → refuses a misspelt field and a kind it has no schema for (it can fail)', async (t) => {
    const objects = await render(BASE);
    const rabbit = named<{ spec: Record<string, unknown> }>(objects, 'RabbitmqCluster', 'shop-rabbitmq');
    t.notDeepEqual(schemaErrors({ ...rabbit, spec: { ...rabbit.spec, replica: 3 } }), []);
    const deployment = named<IDeployment>(objects, 'Deployment', 'user-service');
    t.notDeepEqual(schemaErrors({ ...deployment, spec: { ...deployment.spec, replicas: 'two' } }), []);
    t.notDeepEqual(schemaErrors({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }), []);
  });

  test('Deployments → ≥ 2 replicas, requests and limits, non-root read-only containers, the three probes, a preStop and grace that cover the drain', async (t) => {
    const objects = await render(OVERLAY);
    t.deepEqual(
      ofKind(objects, 'Deployment')
        .map((object) => object.metadata.name)
        .sort(),
      [...SERVICE_NAMES].sort(),
    );
    for (const service of SERVICE_NAMES) {
      const deployment = named<IDeployment>(objects, 'Deployment', service);
      const pod = deployment.spec?.template.spec;
      const container = containerOf(deployment);
      t.true((deployment.spec?.replicas ?? 1) >= 2, `${service}: replicas`);
      for (const resource of ['cpu', 'memory']) {
        t.truthy(container.resources?.requests?.[resource], `${service}: ${resource} request`);
        t.truthy(container.resources?.limits?.[resource], `${service}: ${resource} limit`);
      }
      t.true(pod?.securityContext?.runAsNonRoot, `${service}: runAsNonRoot`);
      t.is(pod?.securityContext?.runAsUser, NODE_IMAGE_UID, `${service}: the image's numeric user`);
      t.true(container.securityContext?.readOnlyRootFilesystem, `${service}: read-only root`);
      t.false(container.securityContext?.allowPrivilegeEscalation, `${service}: no privilege escalation`);
      t.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);

      t.is(container.startupProbe?.httpGet?.path, '/health/live', `${service}: startup probe`);
      t.is(container.livenessProbe?.httpGet?.path, '/health/live', `${service}: liveness probe`);
      t.is(container.readinessProbe?.httpGet?.path, '/health/ready', `${service}: readiness probe`);
      for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
        const port = probe?.httpGet?.port;
        t.true(
          container.ports?.some((p) => p.name === port || p.containerPort === port),
          `${service}: probe port ${String(port)} is a container port`,
        );
      }

      // SIGTERM comes after preStop; the service then forces its exit after SHUTDOWN_DEADLINE_MS.
      const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      const grace = pod?.terminationGracePeriodSeconds ?? 30;
      t.true(preStop >= 3, `${service}: preStop sleeps while endpoints drop the pod (${preStop} s)`);
      t.true(grace >= preStop + SHUTDOWN_DEADLINE_MS / 1000, `${service}: grace ${grace} s covers preStop + drain`);
      t.true(grace <= preStop + SHUTDOWN_DEADLINE_MS / 1000 + 10, `${service}: grace ${grace} s is not far beyond it`);
    }
  });

  test('Deployments → the images, ports, user and health check of the Dockerfiles', async (t) => {
    const objects = await render(OVERLAY);
    for (const service of SERVICE_NAMES) {
      const container = containerOf(named<IDeployment>(objects, 'Deployment', service));
      const { text } = dockerfileRuntime(service);
      t.is(container.image?.split(':')[0], service, `${service}: built from ${service}/Dockerfile`);
      const exposed = Number(/^EXPOSE (\d+)$/m.exec(text)?.[1]);
      t.deepEqual(
        container.ports?.map((port) => port.containerPort),
        [exposed],
      );
      t.regex(text, /^USER node$/m, `${service}: the image runs as node (uid ${NODE_IMAGE_UID})`);
      t.regex(text, new RegExp(`HEALTHCHECK[^\\n]*\\n[^\\n]*${container.readinessProbe?.httpGet?.path ?? '?'}`));
    }
  });

  test('Deployments → every variable set is one the service reads, every one resolves, and the service starts with them (production)', async (t) => {
    const objects = await render(OVERLAY);
    const definitions = JSON.parse(
      named<IConfigMap>(objects, 'ConfigMap', definitionsConfigMapName(objects)).data?.['definitions.json'] ?? '{}',
    ) as { users: { name: string; password_hash: string }[] };
    for (const service of SERVICE_NAMES) {
      const container = containerOf(named<IDeployment>(objects, 'Deployment', service));
      const { env, unresolved, names } = containerEnv(objects, service, container);
      t.deepEqual(
        names.filter((name) => !SERVICES[service].variables.includes(name)),
        [],
        `${service}: variables its config does not read`,
      );
      t.deepEqual(unresolved, [], `${service}: variables whose Secret or key is missing`);
      t.is(env.NODE_ENV, 'production', `${service}: the image runs in production mode`);

      // loadConfig throws, naming the variable, when a required one is missing or a value is bad.
      const config = SERVICES[service].load(env);
      t.deepEqual(
        container.ports?.map((port) => port.containerPort),
        [config.port],
        `${service}: listens on its container port`,
      );

      const broker = new URL(config.amqpUrl);
      t.is(decodeURIComponent(broker.pathname.slice(1)), 'shop', `${service}: vhost shop`);
      t.is(decodeURIComponent(broker.username), service, `${service}: connects as its own broker user`);
      t.is(broker.hostname, named<K8sObject>(objects, 'RabbitmqCluster', 'shop-rabbitmq').metadata.name);
      const user = definitions.users.find((candidate) => candidate.name === service);
      t.truthy(user, `${service}: a user in the definitions`);
      t.true(
        rabbitPasswordMatches(user?.password_hash ?? '', decodeURIComponent(broker.password)),
        `${service}: the Secret's broker password is the definitions' one`,
      );
    }
  });

  test('Services, PodDisruptionBudgets, autoscalers → one of each per Deployment, selecting its pods', async (t) => {
    const objects = await render(OVERLAY);
    for (const service of SERVICE_NAMES) {
      const deployment = named<IDeployment>(objects, 'Deployment', service);
      const podLabels = deployment.spec?.template.metadata?.labels;
      const container = containerOf(deployment);

      const svc = named<IService>(objects, 'Service', service);
      t.true(matches(svc.spec?.selector, podLabels), `${service}: Service selects the pods`);
      t.deepEqual(
        svc.spec?.ports?.map((port) => port.targetPort),
        container.ports?.map((port) => port.name),
      );

      const budgets = ofKind<IPodDisruptionBudget>(objects, 'PodDisruptionBudget').filter((pdb) =>
        matches(pdb.spec?.selector?.matchLabels, podLabels),
      );
      t.is(budgets.length, 1, `${service}: one PodDisruptionBudget`);
      t.true(
        budgets[0]?.spec?.maxUnavailable === 1 || Number(budgets[0]?.spec?.minAvailable) >= 1,
        `${service}: a drain keeps a pod serving`,
      );

      // Two autoscalers on one Deployment fight over its replica count.
      const hpas = ofKind<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler').filter(
        (hpa) => hpa.spec?.scaleTargetRef.kind === 'Deployment' && hpa.spec.scaleTargetRef.name === service,
      );
      const scaled = ofKind<IScaledObject>(objects, 'ScaledObject').filter(
        (object) => object.spec.scaleTargetRef.name === service,
      );
      t.is(hpas.length + scaled.length, 1, `${service}: exactly one autoscaler`);
      const cpuTarget =
        hpas[0]?.spec?.metrics?.find((metric) => metric.resource?.name === 'cpu') ??
        scaled[0]?.spec.triggers.find((trigger) => trigger.type === 'cpu');
      t.truthy(cpuTarget, `${service}: scales on CPU`);
      const minimum = hpas[0]?.spec?.minReplicas ?? scaled[0]?.spec.minReplicaCount;
      t.true((minimum ?? 0) >= 2, `${service}: never below 2 replicas`);
    }
  });

  test('KEDA → user-service scales on the depth of the queue it consumes, with the broker URL from its Secret', async (t) => {
    const objects = await render(OVERLAY);
    const scaledObject = named<IScaledObject>(objects, 'ScaledObject', 'user-service');
    const trigger = scaledObject.spec.triggers.find((candidate) => candidate.type === 'rabbitmq');
    const container = containerOf(named<IDeployment>(objects, 'Deployment', 'user-service'));
    const config = SERVICES['user-service'].load(containerEnv(objects, 'user-service', container).env);
    t.is(trigger?.metadata.queueName, config.rpcQueue);
    t.true(Number(trigger?.metadata.value) > 0);

    const auth = named<ITriggerAuthentication>(
      objects,
      'TriggerAuthentication',
      trigger?.authenticationRef?.name ?? '',
    );
    const host = auth.spec.secretTargetRef?.find((ref) => ref.parameter === 'host');
    t.is(
      secretValue(objects, host?.name ?? '', host?.key ?? ''),
      config.amqpUrl,
      'KEDA reads the URL user-service uses',
    );
  });

  test('NetworkPolicies → each service reaches only its database, RabbitMQ and DNS, and takes traffic on its port', async (t) => {
    const objects = await render(OVERLAY);
    const rabbit = named<K8sObject>(objects, 'RabbitmqCluster', 'shop-rabbitmq');
    const databases = { 'user-service': 'user-db', 'product-service': 'product-db' } as const;
    for (const service of SERVICE_NAMES) {
      const deployment = named<IDeployment>(objects, 'Deployment', service);
      const podLabels = deployment.spec?.template.metadata?.labels;
      const policies = ofKind<INetworkPolicy>(objects, 'NetworkPolicy').filter((policy) =>
        matches(policy.spec?.podSelector.matchLabels, podLabels),
      );
      t.is(policies.length, 1, `${service}: one policy`);
      const spec = policies[0]?.spec;
      t.deepEqual(spec?.policyTypes, ['Ingress', 'Egress']);
      t.deepEqual(
        spec?.ingress?.flatMap((rule) => rule.ports?.map((port) => port.port) ?? []),
        [containerOf(deployment).ports?.[0]?.containerPort],
      );
      t.true(
        ofKind(objects, 'Cluster').some((cluster) => cluster.metadata.name === databases[service]),
        `${service}: its database is a Cluster in the manifests`,
      );
      // The labels the operators put on their pods: cnpg.io/cluster, and the cluster's name.
      const egress = (spec?.egress ?? []).map((rule) => ({
        to: rule.to?.map((peer) => ({
          pods: peer.podSelector?.matchLabels,
          namespaces: peer.namespaceSelector?.matchLabels,
        })),
        ports: rule.ports?.map((port) => `${String(port.port)}/${port.protocol ?? 'TCP'}`),
      }));
      t.deepEqual(egress, [
        { to: [{ pods: { 'cnpg.io/cluster': databases[service] }, namespaces: undefined }], ports: ['5432/TCP'] },
        {
          to: [{ pods: { 'app.kubernetes.io/name': rabbit.metadata.name }, namespaces: undefined }],
          ports: ['5672/TCP'],
        },
        {
          to: [{ pods: { 'k8s-app': 'kube-dns' }, namespaces: { 'kubernetes.io/metadata.name': 'kube-system' } }],
          ports: ['53/UDP', '53/TCP'],
        },
      ]);
    }
  });

  test('RabbitmqCluster → 3 nodes loading the definitions ConfigMap: vhost shop, a user per service with permissions there', async (t) => {
    const objects = await render(OVERLAY);
    const rabbit = named<{
      spec: {
        replicas: number;
        rabbitmq: { additionalConfig: string };
        override: {
          statefulSet: {
            spec: {
              template: {
                spec: {
                  containers: { volumeMounts: { name: string; mountPath: string }[] }[];
                  volumes: { name: string; configMap: { name: string } }[];
                };
              };
            };
          };
        };
      };
    }>(objects, 'RabbitmqCluster', 'shop-rabbitmq');
    t.is(rabbit.spec.replicas, 3);
    const pod = rabbit.spec.override.statefulSet.spec.template.spec;
    const volume = pod.volumes.find((candidate) => candidate.configMap.name === definitionsConfigMapName(objects));
    const mount = pod.containers[0]?.volumeMounts.find((candidate) => candidate.name === volume?.name);
    t.truthy(mount, 'the generated ConfigMap (with its hash suffix) is mounted');
    const known = rabbitmqConfigKeys();
    if (known) {
      const keys = rabbit.spec.rabbitmq.additionalConfig
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => line.split('=')[0]?.trim() ?? '');
      t.deepEqual(
        keys.filter((key) => !known.some((pattern) => pattern.test(key))),
        [],
        "additionalConfig keys this machine's RabbitMQ does not know",
      );
    } else {
      t.log("no rabbitmq-server package here: additionalConfig's keys are not checked");
    }
    t.regex(rabbit.spec.rabbitmq.additionalConfig, /^definitions\.import_backend = local_filesystem$/m);
    t.regex(
      rabbit.spec.rabbitmq.additionalConfig,
      new RegExp(`^definitions\\.local\\.path = ${mount?.mountPath ?? '?'}/definitions\\.json$`, 'm'),
    );

    const definitions = JSON.parse(
      named<IConfigMap>(objects, 'ConfigMap', definitionsConfigMapName(objects)).data?.['definitions.json'] ?? '{}',
    ) as { vhosts: { name: string }[]; permissions: { user: string; vhost: string }[] };
    t.true(definitions.vhosts.some((vhost) => vhost.name === 'shop'));
    for (const service of SERVICE_NAMES) {
      t.true(
        definitions.permissions.some((permission) => permission.user === service && permission.vhost === 'shop'),
        `${service}: permissions in vhost shop`,
      );
    }
  });

  test('probes → every probe path answers 200 on the real services', async (t) => {
    const objects = await render(OVERLAY);
    const env = await TestEnvironment.start();
    const system = await startSystem(env).catch(async (error: unknown) => {
      await env.close();
      throw error;
    });
    try {
      const processes = { 'user-service': system.user, 'product-service': system.product };
      for (const service of SERVICE_NAMES) {
        const container = containerOf(named<IDeployment>(objects, 'Deployment', service));
        for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
          const response = await fetch(`${processes[service].baseUrl}${probe?.httpGet?.path ?? '/missing'}`);
          t.is(response.status, 200, `${service} ${probe?.httpGet?.path ?? '?'}`);
        }
      }
    } finally {
      await system.stop();
      await env.close();
    }
  });
}

/** The generated definitions ConfigMap's name (kustomize adds a hash of its content). */
function definitionsConfigMapName(objects: K8sObject[]): string {
  const found = ofKind(objects, 'ConfigMap').find((object) => object.metadata.name.startsWith('rabbitmq-definitions'));
  return found?.metadata.name ?? 'rabbitmq-definitions';
}
