import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** OTLP span kinds (the wire numbers): INTERNAL 1, SERVER 2, CLIENT 3, PRODUCER 4, CONSUMER 5. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

/** One span as exported, whatever the encoding; ids are lowercase hex. */
export interface ReceivedSpan {
  /** The `service.name` of the resource that sent it. */
  service: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  links: { traceId: string; spanId: string }[];
}

/** The encodings received so far, by request `Content-Type`. */
export type OtlpEncoding = 'json' | 'protobuf';

/**
 * A minimal OTLP/HTTP trace receiver on 127.0.0.1 (port 0): it answers every
 * `POST /v1/traces` with 200 and keeps the spans, decoding `http/json` and `http/protobuf`
 * (the latter with a small wire-format reader covering the fields above), so a test can point
 * the services' `OTEL_EXPORTER_OTLP_ENDPOINT` at it and look at what they exported.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Which service sent which encoding. */
  readonly encodings = new Map<string, Set<OtlpEncoding>>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpReceiver> {
    const received: { receiver?: OtlpReceiver } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const json = (req.headers['content-type'] ?? '').includes('json');
        try {
          if (req.method !== 'POST' || req.url !== '/v1/traces') throw new Error(`unexpected ${req.method} ${req.url}`);
          received.receiver?.accept(json ? decodeJson(body) : decodeProtobuf(body), json ? 'json' : 'protobuf');
          res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
          res.end(json ? '{}' : '');
        } catch (error) {
          res.writeHead(400).end(String(error));
        }
      });
    });
    const receiver = new OtlpReceiver(server);
    received.receiver = receiver;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`). */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(spans: ReceivedSpan[], encoding: OtlpEncoding): void {
    this.spans.push(...spans);
    for (const span of spans) {
      const seen = this.encodings.get(span.service) ?? new Set();
      seen.add(encoding);
      this.encodings.set(span.service, seen);
    }
  }
}

interface JsonKeyValue {
  key: string;
  value?: { stringValue?: string };
}

interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  links?: { traceId: string; spanId: string }[];
}

interface JsonRequest {
  resourceSpans?: {
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: { spans?: JsonSpan[] }[];
  }[];
}

/** OTLP/JSON: ids are hex strings (as the OpenTelemetry JS exporter writes them). */
function decodeJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString('utf8')) as JsonRequest;
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const service =
      resourceSpans.resource?.attributes?.find((attribute) => attribute.key === 'service.name')?.value?.stringValue ??
      '';
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
      (scopeSpans.spans ?? []).map((span) => ({
        service,
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? '',
        name: span.name,
        kind: span.kind,
        links: (span.links ?? []).map((link) => ({ traceId: link.traceId, spanId: link.spanId })),
      })),
    );
  });
}

/** A protobuf message's fields: number → raw values (a Buffer for length-delimited, else a number). */
type Fields = Map<number, (Buffer | number)[]>;

/** Reads one message's fields (wire types 0, 1, 2 and 5: all that OTLP traces use). */
function readFields(buffer: Buffer): Fields {
  const fields: Fields = new Map();
  let offset = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = buffer[offset++];
      if (byte === undefined) throw new Error('truncated varint');
      // Values past 2^53 (64-bit timestamps) lose precision; nothing read here needs them exact.
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
  };
  while (offset < buffer.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    // Fixed-size fields (wire types 1 and 5) are skipped: no field read here has that type.
    let value: Buffer | number = 0;
    if (wireType === 0) {
      value = varint();
    } else if (wireType === 1) {
      offset += 8;
    } else if (wireType === 5) {
      offset += 4;
    } else if (wireType === 2) {
      const length = varint();
      value = buffer.subarray(offset, offset + length);
      offset += length;
    } else {
      throw new Error(`unsupported wire type ${wireType}`);
    }
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

const bytes = (fields: Fields, field: number): Buffer => {
  const value = fields.get(field)?.[0];
  return Buffer.isBuffer(value) ? value : Buffer.alloc(0);
};
const NO_FIELDS: Fields = new Map();
const messages = (fields: Fields, field: number): Fields[] =>
  (fields.get(field) ?? []).filter((value): value is Buffer => Buffer.isBuffer(value)).map(readFields);

/**
 * OTLP/protobuf `ExportTraceServiceRequest`: resource_spans(1) → resource(1) → attributes(1)
 * {key(1), value(2) → string_value(1)}; scope_spans(2) → spans(2) {trace_id(1), span_id(2),
 * parent_span_id(4), name(5), kind(6), links(13) {trace_id(1), span_id(2)}}.
 */
function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  return messages(readFields(body), 1).flatMap((resourceSpans) => {
    const attributes = messages(messages(resourceSpans, 1)[0] ?? NO_FIELDS, 1);
    const serviceName = attributes.find((attribute) => bytes(attribute, 1).toString() === 'service.name');
    const service = serviceName ? bytes(messages(serviceName, 2)[0] ?? NO_FIELDS, 1).toString() : '';
    return messages(resourceSpans, 2).flatMap((scopeSpans) =>
      messages(scopeSpans, 2).map((span) => ({
        service,
        traceId: bytes(span, 1).toString('hex'),
        spanId: bytes(span, 2).toString('hex'),
        parentSpanId: bytes(span, 4).toString('hex'),
        name: bytes(span, 5).toString(),
        kind: Number(span.get(6)?.[0] ?? 0),
        links: messages(span, 13).map((link) => ({
          traceId: bytes(link, 1).toString('hex'),
          spanId: bytes(link, 2).toString('hex'),
        })),
      })),
    );
  });
}
