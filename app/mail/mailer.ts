import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Where messages go: an SMTP server, or the outbox directory in development. */
export interface MailTransport {
  readonly kind: 'smtp' | 'outbox';
  /** `id` is the message's own id: its Message-ID header and the only thing logs say about it. */
  deliver(mail: OutgoingMail, id: string): Promise<void>;
}

/** `<id@domain of MAIL_FROM>`, so a log line's mailId finds the message in a mail server's logs. */
function messageIdHeader(id: string, from: string): string {
  const domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? 'signalbox.invalid';
  return `<${id}@${domain}>`;
}

/**
 * The nodemailer options for SMTP_URL. `smtp://` requires STARTTLS (requireTLS): a server, or a
 * man in the middle, that does not offer it gets no message, so a stripped STARTTLS cannot turn
 * reset codes into plain text on the wire. `smtps://` is TLS from the first byte. `smtp+insecure://`
 * is the operator's explicit opt-out (a relay on loopback): STARTTLS when offered, plain text if not.
 */
export function smtpOptions(smtpUrl: string): { url: string; requireTLS: boolean } {
  const url = new URL(smtpUrl);
  const insecure = url.protocol === 'smtp+insecure:';
  // URL query options would override ours (nodemailer merges them last): the scheme alone decides TLS.
  url.searchParams.delete('requireTLS');
  url.searchParams.delete('ignoreTLS');
  url.searchParams.delete('secure');
  const plain = insecure ? `smtp:${url.href.slice(url.protocol.length)}` : url.href;
  return { url: plain, requireTLS: !insecure && url.protocol === 'smtp:' };
}

/** nodemailer over `smtp://` (STARTTLS required), `smtps://` (TLS from the start) or `smtp+insecure://`. */
export function smtpTransport(smtpUrl: string, from: string): MailTransport {
  const transport = nodemailer.createTransport(smtpOptions(smtpUrl));
  return {
    kind: 'smtp',
    async deliver(mail, id) {
      await transport.sendMail({ from, ...mail, messageId: messageIdHeader(id, from) });
    },
  };
}

/**
 * Writes each message as DATA_DIR/outbox/<time>-<id>.eml, so `npm start` works with no mail server.
 * The file name and the log line carry the message id, never the address: logs and directory
 * listings travel further than the messages themselves.
 */
export function outboxTransport(dir: string, from: string, logger: Logger): MailTransport {
  const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    kind: 'outbox',
    async deliver(mail, id) {
      const { message } = (await builder.sendMail({ from, ...mail, messageId: messageIdHeader(id, from) })) as unknown as { message: Buffer };
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${id}.eml`);
      writeFileSync(file, message, { mode: 0o600, flag: 'wx' });
      logger.info({ mailId: id, file }, 'mail written to the outbox (SMTP_URL is not set)');
    },
  };
}

/** An SMTP error as a log field: its codes, and its text with any e-mail address in it blanked. */
function describeError(err: unknown): Record<string, unknown> {
  // Anything can be thrown, null and undefined included.
  const e = err as { message?: unknown; code?: unknown; responseCode?: unknown; command?: unknown } | null | undefined;
  const message = typeof e?.message === 'string' ? e.message.replace(/[^\s<>"',;:]+@[^\s<>"',;:]+/g, '<address>') : String(err);
  return { message, code: e?.code, responseCode: e?.responseCode, command: e?.command };
}

export interface MailerOptions {
  /** Waits before each retry, in ms; its length is the number of retries. */
  retryDelaysMs?: number[];
}

/** Retries cover a mail server restart or greylisting; after ~2 minutes the message is given up and logged. */
const DEFAULT_RETRY_DELAYS_MS = [2_000, 15_000, 90_000];

/**
 * Sends mail off the request path: `send` returns at once and never throws, so an HTTP answer never
 * waits on SMTP or reveals whether a message went out. Failures are retried with backoff, then logged.
 */
export class Mailer {
  private pending = new Set<Promise<void>>();
  /** Running totals for the metrics (app/mail/mailMetrics.ts): messages delivered, attempts retried, messages given up. */
  readonly totals = { delivered: 0, retried: 0, failed: 0 };
  private readonly delays: number[];

  constructor(
    readonly transport: MailTransport,
    private readonly logger: Logger,
    options: MailerOptions = {},
  ) {
    this.delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  }

  /** Queues the message and returns its id (also its Message-ID), which is all the logs say about it. */
  send(mail: OutgoingMail): string {
    const id = randomUUID();
    const job = this.deliverWithRetries(mail, id).finally(() => this.pending.delete(job));
    this.pending.add(job);
    return id;
  }

  /** Resolves once every message handed to `send` so far was delivered or given up (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async deliverWithRetries(mail: OutgoingMail, id: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.transport.deliver(mail, id);
        this.totals.delivered++;
        if (this.transport.kind === 'smtp') this.logger.info({ mailId: id, attempt: attempt + 1 }, 'mail sent');
        return;
      } catch (err) {
        // The id and the subject are logged, never the address or the body (the body holds the code).
        const context = { mailId: id, subject: mail.subject, attempt: attempt + 1, error: describeError(err) };
        if (attempt >= this.delays.length) {
          this.totals.failed++;
          this.logger.error(context, 'mail delivery failed; giving up');
          return;
        }
        this.totals.retried++;
        this.logger.warn(context, 'mail delivery failed; will retry');
        await new Promise((r) => setTimeout(r, this.delays[attempt]).unref());
      }
    }
  }
}

type MailConfig = { smtpUrl: string | undefined; mailFrom: string; dataDir: string };

/** SMTP when SMTP_URL is set, else the outbox in DATA_DIR. */
export function mailTransportFor(config: MailConfig, logger: Logger): MailTransport {
  return config.smtpUrl ? smtpTransport(config.smtpUrl, config.mailFrom) : outboxTransport(join(config.dataDir, 'outbox'), config.mailFrom, logger);
}

/** The mailer the configuration asks for. */
export function createMailer(config: MailConfig, logger: Logger, options?: MailerOptions): Mailer {
  return new Mailer(mailTransportFor(config, logger), logger, options);
}
