import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The raw RFC 5322 message as received. */
  raw: string;
  /** Whether the session was encrypted (STARTTLS) when the message arrived. */
  secure: boolean;
}

export interface TestSmtpServer {
  /**
   * SMTP_URL for this server. Without STARTTLS it is `smtp+insecure://` (the app requires TLS on
   * `smtp://`); with it, `smtp://` accepting the server's self-signed certificate.
   */
  url: string;
  /** The server's port, for building other URLs to it. */
  port: number;
  received: ReceivedMail[];
  /** Refuse the next `n` messages with a temporary 451 error, as a busy or greylisting server would. */
  refuseNext(n: number): void;
  /** Resolves when `count` messages have arrived. */
  waitFor(count: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

/**
 * A real SMTP server (nodemailer's smtp-server) on loopback, keeping every message it accepts.
 * `startTls: true` offers STARTTLS with smtp-server's built-in self-signed certificate.
 */
export async function startSmtpServer(options: { startTls?: boolean } = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const waiters: Array<() => void> = [];
  let refusals = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: options.startTls ? [] : ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (refusals > 0) {
          refusals--;
          const err = Object.assign(new Error('try again later'), { responseCode: 451 });
          callback(err);
          return;
        }
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
        });
        waiters.splice(0).forEach((w) => w());
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: options.startTls ? `smtp://127.0.0.1:${port}?tls.rejectUnauthorized=false` : `smtp+insecure://127.0.0.1:${port}`,
    port,
    received,
    refuseNext(n) {
      refusals = n;
    },
    async waitFor(count) {
      while (received.length < count) await new Promise<void>((r) => waiters.push(r));
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The 6-digit code in a reset message's plain-text part. */
export function codeIn(mail: ReceivedMail): string {
  const match = /reset your Signalbox password is (\d{6})/.exec(mail.raw.replace(/=\r?\n/g, ''));
  if (!match) throw new Error(`no reset code in message:\n${mail.raw}`);
  return match[1]!;
}
