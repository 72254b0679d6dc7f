import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parseAllDocuments, parse } from 'yaml';

import { REPO_ROOT } from './service-process';

const run = promisify(execFile);

/** One object of a rendered manifest set, as plain data. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** True when `kubectl` runs here (looked up synchronously: ava registers tests synchronously). */
export function kubectlAvailable(): boolean {
  return spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
}

/** `kubectl kustomize <dir>` (relative to the repository root), parsed into its objects. */
export async function renderKustomization(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run('kubectl', ['kustomize', path.join(REPO_ROOT, dir)], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseAllDocuments(stdout)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

/** A model class of kubernetes-models: validates its data on `validate()` (throws the errors). */
type ModelClass = new (data: object) => { validate(): void };

/**
 * Where the schema of each API group lives: kubernetes-models for Kubernetes' own kinds,
 * @kubernetes-models/keda for KEDA's, the vendored CRDs (schemas/crds) for the operators that
 * have no npm models.
 */
const MODEL_MODULES: Record<string, string> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
  'autoscaling/v2': 'kubernetes-models/autoscaling/v2',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'keda.sh/v1alpha1': '@kubernetes-models/keda/keda.sh/v1alpha1',
};

const VENDORED_CRDS = ['rabbitmq.com_rabbitmqclusters.yaml', 'postgresql.cnpg.io_clusters.yaml'];

interface CrdVersion {
  name: string;
  schema: { openAPIV3Schema: Record<string, unknown> };
}
interface Crd {
  spec: { group: string; names: { kind: string }; versions: CrdVersion[] };
}

let crdValidators: Map<string, ValidateFunction> | undefined;

/** `<apiVersion>/<kind>` → a validator of the vendored CRD's schema, compiled once. */
function vendoredCrdValidators(): Map<string, ValidateFunction> {
  if (crdValidators) return crdValidators;
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  crdValidators = new Map();
  for (const file of VENDORED_CRDS) {
    const crd = parse(readFileSync(path.join(REPO_ROOT, 'scripts/system-tests/schemas/crds', file), 'utf8')) as Crd;
    for (const version of crd.spec.versions) {
      const schema = refuseUnknownFields(structuredClone(version.schema.openAPIV3Schema));
      crdValidators.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, ajv.compile(schema));
    }
  }
  return crdValidators;
}

/**
 * The API server prunes, or with strict field validation refuses, fields a structural schema does
 * not name; JSON Schema allows them. Closing every object that lists its properties (and does not
 * keep unknown fields) makes a misspelt field an error here too.
 */
function refuseUnknownFields(schema: Record<string, unknown>): Record<string, unknown> {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (
      record.properties &&
      record.additionalProperties === undefined &&
      record['x-kubernetes-preserve-unknown-fields'] !== true
    ) {
      record.additionalProperties = false;
    }
    Object.values(record).forEach(visit);
  };
  visit(schema);
  // metadata is checked by the API server itself, not by the CRD's schema.
  const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
  if (properties?.metadata) properties.metadata = { type: 'object' };
  return schema;
}

/**
 * What is wrong with `object` by its kind's schema: empty when it validates, one message when
 * the kind is unknown to every schema source.
 */
export function schemaErrors(object: K8sObject): string[] {
  const crd = vendoredCrdValidators().get(`${object.apiVersion}/${object.kind}`);
  if (crd) {
    if (crd(object)) return [];
    return (crd.errors ?? []).map(
      (error) => `${error.instancePath} ${error.message ?? ''} ${JSON.stringify(error.params)}`,
    );
  }
  const module = MODEL_MODULES[object.apiVersion];
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module is chosen by apiVersion
  const model = module ? (require(module) as Record<string, ModelClass | undefined>)[object.kind] : undefined;
  if (!model) return [`no schema for ${object.apiVersion} ${object.kind}`];
  try {
    new model(withUnfoldedSecretData(object)).validate();
    return [];
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}

/**
 * kustomize folds long base64 values of a Secret over several lines; the API server's decoder
 * (Go's encoding/base64) skips line breaks, the model's `byte` format does not.
 */
function withUnfoldedSecretData(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret' || !object.data || typeof object.data !== 'object') return object;
  const data = Object.fromEntries(
    Object.entries(object.data as Record<string, string>).map(([key, value]) => [key, value.replace(/\s+/g, '')]),
  );
  return { ...object, data };
}

/** The `ENV` lines of a Dockerfile's last stage (the runtime image), as the container starts with them. */
export function dockerfileRuntime(service: string): { env: Record<string, string>; text: string } {
  const text = readFileSync(path.join(REPO_ROOT, service, 'Dockerfile'), 'utf8');
  const lastStage = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const match of lastStage.matchAll(/^ENV (\w+)=(\S+)$/gm)) env[match[1] as string] = match[2] as string;
  return { env, text: lastStage };
}

/** Where Debian's rabbitmq-server keeps its plugins, each with the config keys it maps. */
const RABBITMQ_LIB = '/usr/lib/rabbitmq/lib';

/**
 * The `rabbitmq.conf` keys this machine's RabbitMQ knows (every `{mapping, "<key>", …}` of its
 * plugins' cuttlefish schemas, `$name` segments as wildcards), or undefined without Debian's
 * rabbitmq-server package. A node refuses to boot on a key it does not know.
 */
export function rabbitmqConfigKeys(): RegExp[] | undefined {
  if (!existsSync(RABBITMQ_LIB)) return undefined;
  const keys: RegExp[] = [];
  for (const server of readdirSync(RABBITMQ_LIB)) {
    const plugins = path.join(RABBITMQ_LIB, server, 'plugins');
    if (!existsSync(plugins)) continue;
    for (const plugin of readdirSync(plugins)) {
      const schemas = path.join(plugins, plugin, 'priv', 'schema');
      if (!existsSync(schemas)) continue;
      for (const file of readdirSync(schemas).filter((name) => name.endsWith('.schema'))) {
        for (const match of readFileSync(path.join(schemas, file), 'utf8').matchAll(/\{mapping, "([^"]+)"/g)) {
          const pattern = (match[1] as string)
            .split('.')
            .map((part) => (part.startsWith('$') ? '[^.]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
            .join('\\.');
          keys.push(new RegExp(`^${pattern}$`));
        }
      }
    }
  }
  return keys;
}
