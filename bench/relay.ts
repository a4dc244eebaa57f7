import Koa from 'koa';

/**
 * The delivery baseline of bench/signaling.ts (bench/README.md, "Signaling"): the least a long-poll relay
 * can do on Koa. In memory, nothing stored, no auth, no checks. `POST /send` (JSON `{to, payload}`; 202
 * `{ok: true}`) hands the payload to `to`'s held `GET /poll?user=..&wait=..` (seconds, at most 30), or queues it when none
 * is held; a poll with something queued answers at once, a newer poll of the same user answers the older
 * empty. Answers `{signals: [{payload}]}`, the shape of GET /signaling/poll. `GET /held`: `{held: n}`, so the
 * driver can see a poll held before it times a send, as it does on the app through /metrics.
 */
export function createRelay(): { app: Koa; release(): void } {
  type Signal = { payload: string };
  const queued = new Map<string, Signal[]>();
  const held = new Map<string, (signals: Signal[]) => void>();
  const app = new Koa();
  app.use(async (ctx) => {
    if (ctx.method === 'POST' && ctx.path === '/send') {
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
      const { to, payload } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { to: string; payload: string };
      const answer = held.get(to);
      held.delete(to);
      if (answer) answer([{ payload }]);
      else queued.set(to, [...(queued.get(to) ?? []), { payload }]);
      ctx.status = 202;
      ctx.body = { ok: true };
    } else if (ctx.method === 'GET' && ctx.path === '/poll') {
      const user = String(ctx.query.user);
      const waitMs = Math.min(30, Number(ctx.query.wait ?? 0) || 0) * 1000;
      const pending = queued.get(user);
      queued.delete(user);
      held.get(user)?.([]);
      ctx.body = {
        signals:
          pending || waitMs === 0
            ? (pending ?? [])
            : await new Promise<Signal[]>((resolve) => {
                const timer = setTimeout(() => answer([]), waitMs);
                const answer = (signals: Signal[]) => {
                  clearTimeout(timer);
                  if (held.get(user) === answer) held.delete(user);
                  resolve(signals);
                };
                held.set(user, answer);
              }),
      };
    } else if (ctx.path === '/held') ctx.body = { held: held.size };
    else ctx.status = 404;
  });
  return { app, release: () => [...held.values()].forEach((answer) => answer([])) };
}
