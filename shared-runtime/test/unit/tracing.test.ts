import test from 'ava';
import Joi from 'joi';

import { ConfigError, commonConfigOf, commonEnvKeys, validateEnv, type TracingConfig } from '../../src';
import { startTracing } from '../../src/tracing';
// Every other entry point, as a service loads them: none may pull in the SDK.
import '../../src/db';
import '../../src/http';
import '../../src/messaging';

function tracingOf(env: Record<string, string>): TracingConfig {
  const schema = Joi.object(commonEnvKeys({ port: 8000, database: 'db' })).unknown(true);
  return commonConfigOf(validateEnv(schema, env)).tracing;
}

test('tracing config → off without an OTLP endpoint; on with the generic or the traces-specific one', (t) => {
  t.deepEqual(tracingOf({}), { enabled: false, protocol: 'http/protobuf' });
  t.false(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).enabled, 'empty reads as unset, as the spec says');
  t.true(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }).enabled);
  t.true(tracingOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces' }).enabled);
});

test('tracing config → OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn it off', (t) => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' };
  t.false(tracingOf({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).enabled);
  t.false(tracingOf({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).enabled);
});

test('tracing config → the traces-specific protocol wins over the generic one', (t) => {
  t.is(tracingOf({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol, 'http/json');
  t.is(
    tracingOf({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })
      .protocol,
    'http/protobuf',
  );
});

test('tracing config → gRPC or a non-http endpoint stops the start with the variable named', (t) => {
  const grpc = t.throws(() => tracingOf({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), { instanceOf: ConfigError });
  t.regex(grpc.message, /OTEL_EXPORTER_OTLP_PROTOCOL must be http\/protobuf or http\/json/);
  const endpoint = t.throws(() => tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318' }), {
    instanceOf: ConfigError,
  });
  t.regex(endpoint.message, /OTEL_EXPORTER_OTLP_ENDPOINT/);
});

test('startTracing with tracing off → nothing started and no SDK package loaded, even with every entry point loaded', async (t) => {
  const tracing = await startTracing(
    { enabled: false, protocol: 'http/protobuf' },
    { serviceName: 'test', serviceVersion: '0' },
  );
  t.is(tracing, undefined);
  const loaded = Object.keys(require.cache).filter(
    (file) => file.includes('/@opentelemetry/') && !file.includes('/@opentelemetry/api/'),
  );
  t.deepEqual(loaded, []);
});
