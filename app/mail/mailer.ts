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
  deliver(mail: OutgoingMail): Promise<void>;
}

/** nodemailer over `smtp://` (STARTTLS when the server offers it) or `smtps://` (TLS from the start). */
export function smtpTransport(url: string, from: string): MailTransport {
  const transport = nodemailer.createTransport(url);
  return {
    kind: 'smtp',
    async deliver(mail) {
      await transport.sendMail({ from, ...mail });
    },
  };
}

/** Writes each message as DATA_DIR/outbox/<time>-<to>.eml, so `npm start` works with no mail server. */
export function outboxTransport(dir: string, from: string, logger: Logger): MailTransport {
  const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    kind: 'outbox',
    async deliver(mail) {
      const { message } = (await builder.sendMail({ from, ...mail })) as unknown as { message: Buffer };
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const safeTo = mail.to.replace(/[^A-Za-z0-9@._-]/g, '_');
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${safeTo}.eml`);
      writeFileSync(file, message, { mode: 0o600, flag: 'wx' });
      logger.info({ file }, 'mail written to the outbox (SMTP_URL is not set)');
    },
  };
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
  private readonly delays: number[];

  constructor(
    readonly transport: MailTransport,
    private readonly logger: Logger,
    options: MailerOptions = {},
  ) {
    this.delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  }

  send(mail: OutgoingMail): void {
    const job = this.deliverWithRetries(mail).finally(() => this.pending.delete(job));
    this.pending.add(job);
  }

  /** Resolves once every message handed to `send` so far was delivered or given up (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async deliverWithRetries(mail: OutgoingMail): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.transport.deliver(mail);
        return;
      } catch (err) {
        // The subject is logged, never the body: it may hold a reset code.
        const context = { err, subject: mail.subject.replace(/\d{6}/g, '******'), attempt: attempt + 1 };
        if (attempt >= this.delays.length) {
          this.logger.error(context, 'mail delivery failed; giving up');
          return;
        }
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
