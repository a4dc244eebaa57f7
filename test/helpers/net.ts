import { connect, createServer } from 'node:net';

/** Where freePort looks: below Linux's ephemeral range (32768-60999), which bind(0) and outgoing connections use. */
const FREE_PORT_RANGE = { from: 20_000, to: 30_000 };

/** Whether `port` (0: any) can be bound on 127.0.0.1 now; the port bound, or null. */
function bindOnce(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : null));
    });
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a process that must be told its port. Picked at
 * random below the ephemeral range, so the servers other tests start on PORT=0 (and every outgoing
 * connection) cannot be handed it before that process binds it; only another pick of this could.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindOnce(FREE_PORT_RANGE.from + Math.floor(Math.random() * (FREE_PORT_RANGE.to - FREE_PORT_RANGE.from)));
    if (port !== null) return port;
  }
  const port = await bindOnce(0);
  if (port === null) throw new Error('no free port on 127.0.0.1');
  return port;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` now (connects, then hangs up). */
export function acceptsTcp(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
