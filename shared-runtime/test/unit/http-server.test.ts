import test from 'ava';
import express from 'express';
import { once } from 'node:events';
import { Agent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { settlesWithin } from '@shop/test-harness';

import { closeServer } from '../../src/http';

/** A server whose one route answers only when the test says; `arrived` resolves once a request is in. */
async function heldServer(): Promise<{ server: Server; arrived: Promise<void>; answer: () => void }> {
  let arrive: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  let answer: () => void = () => undefined;
  const app = express();
  app.get('/held', (_req, res) => {
    answer = () => {
      res.json({ answered: true });
    };
    arrive();
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    arrived,
    answer: () => {
      answer();
    },
  };
}

test('closeServer → waits for the request in flight, then closes the keep-alive connection it leaves idle instead of waiting out the keep-alive timeout', async (t) => {
  const { server, arrived, answer } = await heldServer();
  // Longer than the deadline below: closeServer can only finish within it by closing the
  // connection itself once the response is out.
  server.keepAliveTimeout = 60_000;
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => {
    agent.destroy();
    server.closeAllConnections();
  });
  const { port } = server.address() as AddressInfo;
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/held', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
  await arrived;
  let closed = false;

  const closing = closeServer(server).then(() => {
    closed = true;
  });
  // A fixed wait, as what it shows is that nothing happens meanwhile: several of closeServer's
  // sweeps of idle connections (every 100 ms) pass while the request is in flight.
  await new Promise((resolve) => setTimeout(resolve, 350));
  t.false(closed, 'not closed while a request is in flight');
  answer();

  t.deepEqual(await response, { status: 200, body: '{"answered":true}' });
  await t.notThrowsAsync(settlesWithin(closing, 'closeServer, with a 60 s keep-alive timeout'));
  t.true(closed);
});
