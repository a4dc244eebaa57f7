import { Counter, type Registry } from 'prom-client';
import type { Mailer } from './mailer.js';

/**
 * Mail counters in the app's registry, read from the mailer's totals at each scrape: mail leaves off the
 * request path (a reset code must not wait on SMTP), so a failure is otherwise seen only in the log.
 */
export function registerMailMetrics(registry: Registry, mailer: Pick<Mailer, 'totals'>): void {
  const counter = (name: string, help: string, read: () => number) => {
    let seen = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read();
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  };
  counter('signalbox_mail_sent_total', 'Mails delivered (to the SMTP server, or to the outbox without SMTP_URL).', () => mailer.totals.delivered);
  counter('signalbox_mail_retries_total', 'Mail delivery attempts that failed and will be retried.', () => mailer.totals.retried);
  counter('signalbox_mail_failures_total', 'Mails given up after every retry failed (nothing was delivered).', () => mailer.totals.failed);
}
