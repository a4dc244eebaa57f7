import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { labelled } from '../lib/labelledCounter.js';
import type { AppendRefusal } from '../store/types.js';
import type { PollRefusal } from './notifier.js';

/** Why a send was refused: the store's refusals and the service's own. `no_device`: `toDevice` is not a device of the recipient. */
export type RejectReason = AppendRefusal | 'not_connected' | 'no_device' | 'too_large' | 'rate_limited';

/** Why a long-poll did not hold: `replaced` ends the older poll of a device, the caps refuse the new one. */
export type PollRefusedReason = PollRefusal | 'replaced';

/** Signal counters in the app's registry, beside the HTTP ones. */
export function createSignalMetrics(registry: Registry, heldPolls: () => number) {
  const registers = [registry];
  return {
    sent: new Counter({ name: 'signalbox_signals_sent_total', help: 'Signals accepted (stored for each target device in one write, counted once).', registers }),
    delivered: new Counter({
      name: 'signalbox_signals_delivered_total',
      help: 'Mailbox entries (signals and server events) handed to a device by a poll (redeliveries count again).',
      registers,
    }),
    acknowledged: new Counter({
      name: 'signalbox_signals_acknowledged_total',
      help: 'Mailbox entries (signals and server events) removed by acknowledgement.',
      registers,
    }),
    expired: new Counter({
      name: 'signalbox_signals_expired_total',
      help: 'Mailbox entries (signals and server events) removed unacknowledged after SIGNAL_TTL.',
      registers,
    }),
    rejected: labelled<{ reason: RejectReason }>(
      new Counter({ name: 'signalbox_signals_rejected_total', help: 'Sends refused, by reason.', labelNames: ['reason'] as const, registers }),
    ),
    pollsRefused: labelled<{ reason: PollRefusedReason }>(
      new Counter({
        name: 'signalbox_polls_refused_total',
        help: 'Long-polls not held, by reason: replaced (a newer poll of the same device; the older answered empty), user_cap (429, POLLS_PER_USER), total_cap (503, POLLS_MAX).',
        labelNames: ['reason'] as const,
        registers,
      }),
    ),
    heldPolls: new Gauge({
      name: 'signalbox_held_polls',
      help: 'Long-polls waiting for a signal or server event on this instance.',
      registers,
      collect() {
        this.set(heldPolls());
      },
    }),
    deliveryLatency: new Histogram({
      name: 'signalbox_signal_delivery_seconds',
      help: "From a mailbox entry's writing (a send, or a server event) to a poll handing it to a device.",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 120, 300],
      registers,
    }),
  };
}
export type SignalMetrics = ReturnType<typeof createSignalMetrics>;
