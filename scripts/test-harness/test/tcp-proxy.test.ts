import test from 'ava';
import { connect as connectAmqp } from 'amqplib';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

import { TcpProxy, resolveInfrastructure } from '../src';

/** A server that echoes every byte back, standing in for the real target. */
async function startEchoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

async function withEchoProxy(run: (proxy: TcpProxy) => Promise<void>): Promise<void> {
  const echo = await startEchoServer();
  const proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: echo.port });
  try {
    await run(proxy);
  } finally {
    await proxy.close();
    echo.server.close();
  }
}

/** Connects to the proxy; resolves once connected. */
async function dial(proxy: TcpProxy): Promise<Socket> {
  const socket = connect({ host: proxy.host, port: proxy.port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Writes `text` and resolves with what comes back, or undefined when the socket closes first. */
function roundTrip(socket: Socket, text: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    socket.once('data', (data: Buffer) => {
      resolve(data.toString('utf8'));
    });
    socket.once('close', () => {
      resolve(undefined);
    });
    socket.write(text);
  });
}

test('TcpProxy → forwards bytes both ways', async (t) => {
  await withEchoProxy(async (proxy) => {
    const socket = await dial(proxy);
    t.is(await roundTrip(socket, 'ping'), 'ping');
    t.is(proxy.openConnections, 1);
    socket.destroy();
  });
});

test('TcpProxy → cut() closes the open connections and refuses new ones; restore() lets them through again', async (t) => {
  await withEchoProxy(async (proxy) => {
    const open = await dial(proxy);
    const closed = once(open, 'close');

    proxy.cut();

    await closed;
    t.true(proxy.isCut);
    t.is(proxy.openConnections, 0);
    const refused = await dial(proxy);
    t.is(await roundTrip(refused, 'anyone?'), undefined, 'a connection made while cut is closed at once');

    proxy.restore();

    const again = await dial(proxy);
    t.is(await roundTrip(again, 'back'), 'back');
    again.destroy();
  });
});

test('TcpProxy → refuseNew() leaves the open connections alone and refuses new ones; restore() lets them through again', async (t) => {
  await withEchoProxy(async (proxy) => {
    const open = await dial(proxy);

    proxy.refuseNew();

    t.true(proxy.isCut);
    t.is(await roundTrip(open, 'still there'), 'still there');
    t.is(proxy.openConnections, 1);
    const refused = await dial(proxy);
    t.is(await roundTrip(refused, 'anyone?'), undefined, 'a connection made meanwhile is closed at once');

    proxy.restore();

    const again = await dial(proxy);
    t.is(await roundTrip(again, 'back'), 'back');
    open.destroy();
    again.destroy();
  });
});

test('TcpProxy → close() stops listening: connecting is refused', async (t) => {
  const echo = await startEchoServer();
  t.teardown(() => echo.server.close());
  const proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: echo.port });

  await proxy.close();

  const socket = connect({ host: proxy.host, port: proxy.port });
  const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
  t.is(error.code, 'ECONNREFUSED');
});

test('TcpProxy.proxiedUrl → the same URL (credentials, vhost) with the proxy’s host and port', async (t) => {
  await withEchoProxy(async (proxy) => {
    t.is(
      proxy.proxiedUrl('amqp://guest:secret@broker.example:5672/shop'),
      `amqp://guest:secret@127.0.0.1:${proxy.port}/shop`,
    );
  });
});

test('TcpProxy → an AMQP connection through it sees a broker outage on cut() and connects again after restore()', async (t) => {
  const infrastructure = await resolveInfrastructure();
  t.teardown(() => infrastructure.stop());
  const target = new URL(infrastructure.amqpUrl);
  const proxy = await TcpProxy.start({ targetHost: target.hostname, targetPort: Number(target.port || 5672) });
  t.teardown(() => proxy.close());
  const url = proxy.proxiedUrl(infrastructure.amqpUrl);

  const connection = await connectAmqp(url);
  // Not events.once(): it rejects on the 'error' that comes with the close.
  const lost = new Promise<void>((resolve) => {
    connection.on('error', () => undefined);
    connection.once('close', () => {
      resolve();
    });
  });
  proxy.cut();
  await lost;
  await t.throwsAsync(connectAmqp(url), undefined, 'the broker is unreachable through the proxy while cut');

  proxy.restore();

  const again = await connectAmqp(url);
  t.teardown(() => again.close());
  const channel = await again.createChannel();
  t.truthy(await channel.checkExchange('amq.topic'));
});
