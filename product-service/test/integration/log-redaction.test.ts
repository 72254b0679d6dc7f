import test from 'ava';
import { Writable } from 'node:stream';

import { call } from '@shop/test-harness';

import type { PublicProduct } from '../../src/api/products.presenter';
import { newUserId, productInput } from '../helpers/factories';
import { useProductService } from '../helpers/use-product-service';

/** Every log line the service writes, at the most verbose level. */
const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

const ctx = useProductService({ LOG_LEVEL: 'trace' }, { logDestination: capture });

test.serial(
  'logs → no bearer token or Authorization value, through authorised writes, refusals and errors',
  async (t) => {
    const ownerId = newUserId();
    const token = ctx.responder.tokenFor({ reply: 'valid', userId: ownerId });
    const refused = ctx.responder.tokenFor({ reply: 'invalid', reason: 'bad_signature' });
    const failing = ctx.responder.tokenFor({ reply: 'error' });

    const created = await call<PublicProduct>(ctx.service.baseUrl, 'POST', '/products', {
      token,
      json: productInput(),
      headers: { cookie: `session=${token}` },
    });
    await call(ctx.service.baseUrl, 'PATCH', `/products/${created.body.id}`, { token, json: { quantity: 9 } });
    await call(ctx.service.baseUrl, 'PUT', `/products/${created.body.id}`, { token, json: { price: 'bad' } });
    await call(ctx.service.baseUrl, 'POST', '/products', { token: refused, json: productInput() });
    await call(ctx.service.baseUrl, 'POST', '/products', { token: failing, json: productInput() });
    await call(ctx.service.baseUrl, 'GET', `/products?access_token=${token}`, { token });
    await call(ctx.service.baseUrl, 'DELETE', `/products/${created.body.id}`, { token });

    t.is(created.status, 201);
    const log = lines.join('\n');
    t.true(lines.length > 5, 'the service logged something');
    t.true(log.includes(`/products/${created.body.id}`), 'the log does show the requests, so the capture works');
    for (const secret of [token, refused, failing]) {
      t.false(log.includes(secret), `the log contains a token: ${secret}`);
      t.false(log.includes(secret.split('.')[1]!), 'the log contains part of a token');
    }
    t.notRegex(log, /Bearer /i);
    t.regex(log, /access_token=\[redacted\]/, 'a token in the query string is masked in the logged URL');
  },
);
