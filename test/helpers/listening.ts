import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach } from '@jest/globals';
import { makeTestApp, type TestApp, type TestAppOptions } from './app.js';

/** One request the listening server received, in arrival order. */
export interface ReceivedRequest {
  method: string;
  /** Path and query, e.g. `/signaling/poll?wait=25&after=...`. */
  url: string;
  authorization: string | undefined;
}

/** A test app that also listens on a real socket, for clients that speak HTTP themselves (`fetch`). */
export interface ListeningTestApp extends TestApp {
  /** `http://127.0.0.1:<port>`: an ephemeral loopback port. */
  baseUrl: string;
  /** Every request received so far in this test. */
  received: ReceivedRequest[];
  /** Runs `fn` at the start of the teardown, before held polls are released and the server closes: stop clients here. */
  beforeClose(fn: () => unknown): void;
}

/**
 * A fresh test app (makeTestApp) listening on 127.0.0.1 at an ephemeral port before each test; after
 * it, the `beforeClose` functions run (in order, awaited), held polls are answered, every socket is
 * closed and the app is closed. `options` may be a function read at that moment.
 */
export function useListeningTestApp(options: TestAppOptions | (() => TestAppOptions) = {}): ListeningTestApp {
  const t = {} as ListeningTestApp;
  let teardown: () => Promise<void> = async () => {};
  beforeEach(async () => {
    const app = makeTestApp(typeof options === 'function' ? options() : options);
    const received: ReceivedRequest[] = [];
    const cleanups: Array<() => unknown> = [];
    const server = createServer(app.app.handler);
    server.on('request', (req) => received.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    Object.assign(t, app, { baseUrl: `http://127.0.0.1:${port}`, received, beforeClose: (fn: () => unknown) => cleanups.push(fn) });
    teardown = async () => {
      for (const fn of cleanups) await fn();
      app.app.lifecycle.releasePolls();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await app.close();
    };
  });
  afterEach(() => teardown());
  return t;
}
