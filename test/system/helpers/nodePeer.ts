import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The example headless device (examples/node-peer: the SDK with werift as `rtc` and a file storage)
// as its own process, started the way its README says, from the build that `npm run test:system`
// makes first (tsc -p tsconfig.json). A separate process, as a device would be: nothing of the
// browser or of jest's globals is there, and stopping it ends everything werift left running.

/** From the sources (jest) or from dist/test/system/helpers (the bench's build). */
const MAIN = [new URL('../../../dist/examples/node-peer/main.js', import.meta.url), new URL('../../../examples/node-peer/main.js', import.meta.url)].find((u) =>
  existsSync(u),
);

/** A clean stop takes well under a second; SIGKILL after this. */
const STOP_TIMEOUT_MS = 5_000;

export interface NodePeerEnv {
  SIGNALBOX_URL: string;
  SIGNALBOX_USERNAME: string;
  SIGNALBOX_PASSWORD: string;
  STORAGE_FILE: string;
  RELAY_ONLY?: '1';
  BIND_ADDRESS?: string;
  ACCEPT_FROM?: string;
  CALL?: string;
}

export class NodePeerProcess {
  /** Its stdout lines without the timestamp, and stderr lines prefixed `stderr:`. */
  readonly lines: string[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly child: ChildProcess) {
    let partial = '';
    const take = (prefix: string) => (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) this.lines.push(prefix + line.replace(/^\S+Z /, ''));
      for (const waiter of [...this.waiters]) waiter();
    };
    child.stdout!.setEncoding('utf8').on('data', take(''));
    child.stderr!.setEncoding('utf8').on('data', take('stderr: '));
    child.once('exit', () => [...this.waiters].forEach((w) => w()));
  }

  static start(env: NodePeerEnv): NodePeerProcess {
    if (!MAIN) throw new Error('dist/examples/node-peer/main.js is missing: run tsc -p tsconfig.json first (npm run test:system does)');
    const child = spawn(process.execPath, [fileURLToPath(MAIN)], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new NodePeerProcess(child);
  }

  /** Resolves with the first line (new or already seen) that `match` accepts; rejects with the whole output otherwise. */
  waitFor(match: RegExp | string, timeoutMs: number): Promise<string> {
    const test = (line: string) => (typeof match === 'string' ? line === match : match.test(line));
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find(test);
        if (line !== undefined) {
          done();
          resolve(line);
        } else if (this.child.exitCode !== null) {
          done();
          reject(new Error(`node peer exited (${this.child.exitCode}) before "${match}":\n${this.lines.join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`node peer: no "${match}" within ${timeoutMs} ms:\n${this.lines.join('\n')}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The process id, e.g. to list its sockets. */
  get pid(): number {
    return this.child.pid!;
  }

  /** SIGTERM (the peer hangs up its calls and stops polling), then waits for the exit; SIGKILL after 5 s. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    return new Promise((resolve) => {
      const force = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      this.child.once('exit', (code) => {
        clearTimeout(force);
        resolve(code);
      });
      this.child.kill('SIGTERM');
    });
  }
}
