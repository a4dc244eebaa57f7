import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestApp } from './app.js';

/** A test app on a real socket, for clients that need a URL (the SDK's fetch). */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`, the port picked by the OS. */
  baseUrl: string;
  /** Answers held polls, cuts every connection and stops listening. */
  close(): Promise<void>;
}

/** Listens with `t`'s app on 127.0.0.1 and an ephemeral port: tests never send traffic anywhere else. */
export async function listenOnLoopback(t: TestApp): Promise<LoopbackServer> {
  const server: Server = createServer(t.app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      t.app.lifecycle.releasePolls();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
