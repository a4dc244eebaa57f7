import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SignalboxApp } from '../../app/server.js';

/** An answer as the error-shape helper reads it (the fields of a supertest Response it uses). */
export interface WireResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: unknown;
}

/** A request exactly as it goes on the wire: no header is added beyond Host, Connection and Content-Length. */
export interface WireRequest {
  method: string;
  /** Path and query, already percent-encoded (or deliberately not). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** Past this a request is reported as hanging: no fuzz case should hold a poll (the caller's mailbox is never empty). */
const HANG_MS = 15_000;

/**
 * The app listening on a real loopback socket, spoken to with node:http over kept-alive connections
 * (supertest opens a server per request; thousands of fuzz cases would pay that each time). Raw bytes
 * and raw headers go out as given, so a missing Content-Type or a body that is not JSON is really sent.
 */
export class Wire {
  private constructor(
    private readonly server: Server,
    private readonly port: number,
    private readonly agent: Agent,
  ) {}

  static async listen(app: SignalboxApp): Promise<Wire> {
    const server = createServer(app.handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new Wire(server, (server.address() as AddressInfo).port, new Agent({ keepAlive: true, maxSockets: 4 }));
  }

  send(req: WireRequest): Promise<WireResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...req.headers };
      if (req.body) headers['Content-Length'] = req.body.length;
      const outgoing = request({ host: '127.0.0.1', port: this.port, method: req.method, path: req.path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = {};
          if (/json/.test(res.headers['content-type'] ?? '')) {
            try {
              body = JSON.parse(text) as unknown;
            } catch {
              body = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
        res.on('error', reject);
      });
      outgoing.setTimeout(HANG_MS, () => outgoing.destroy(new Error(`no answer within ${HANG_MS} ms`)));
      outgoing.on('error', reject);
      outgoing.end(req.body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
