import type Database from 'better-sqlite3';

/**
 * Calls `changed` with the old values of `columns` of every row of `table` that a statement of this connection
 * updates or deletes (ON DELETE CASCADE included), inside that very statement, before any later read can run:
 * how the in-memory memos (sessions.ts, rowMemo.ts, knownMailboxes.ts) forget what changed, whichever module's
 * statement changed it. A change rolled back afterwards has made them forget already: one read more, nothing
 * else. TEMP triggers live on this connection only, and are made again at every open.
 */
export function onRowChanged(db: Database.Database, table: string, columns: readonly string[], changed: (...old: unknown[]) => void): void {
  const fn = `signalbox_${table}_changed`;
  db.function(fn, { deterministic: false, varargs: true }, (...old: unknown[]) => {
    changed(...old);
    return null;
  });
  const old = columns.map((c) => `old.${c}`).join(', ');
  db.exec(`
    CREATE TEMP TRIGGER IF NOT EXISTS ${table}_row_deleted AFTER DELETE ON main.${table} BEGIN SELECT ${fn}(${old}); END;
    CREATE TEMP TRIGGER IF NOT EXISTS ${table}_row_updated AFTER UPDATE ON main.${table} BEGIN SELECT ${fn}(${old}); END;
  `);
}
