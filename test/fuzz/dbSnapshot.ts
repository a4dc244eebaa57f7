import type BetterSqlite3 from 'better-sqlite3';
import Database from '../../app/store/sqlite/driver.js';

/**
 * Columns any authenticated request may change, refused or not, and so left out of the comparison:
 * `sessions.last_seen` and `presence.last_seen`. Every authenticated request is activity (presence, the
 * device list's lastSeen), recorded before the input is judged and committed with the group commit, so a
 * touch may even land after the answer. A presence row itself may appear on a user's first authenticated
 * request, so a presence row is compared only once it records a sign-out (`signed_out_at`, which only a
 * successful sign-out may set).
 */
const VOLATILE_COLUMNS: Record<string, string[]> = {
  sessions: ['last_seen'],
  presence: ['last_seen'],
};

/**
 * Tables left out entirely: `rate_limits` holds counters (rate limits, login lockout) that a refused
 * request legitimately counts, counting refusals being their purpose; `health_probe` is the row GET /health
 * writes to prove the store takes writes, on every probe.
 */
const VOLATILE_TABLES = new Set(['rate_limits', 'health_probe']);

/** Every stored row of every table, as sorted JSON lines per table, without the volatile columns. */
export type DbSnapshot = Record<string, string[]>;

/**
 * Reads the app's SQLite file on disk through a connection of its own (read-only, WAL: it sees exactly
 * what the server committed), so a snapshot is what a restart would find, not the server's memory.
 */
export class DbSnapshotter {
  private readonly db: BetterSqlite3.Database;
  private readonly tables: string[];
  /** The last snapshot and the `PRAGMA data_version` it was read at: reused while no other connection has committed since. */
  private last: { version: number; snapshot: DbSnapshot } | null = null;

  constructor(file: string) {
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    this.tables = (this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>)
      .map((r) => r.name)
      .filter((name) => !VOLATILE_TABLES.has(name));
  }

  /**
   * Every table, read again only when the file changed: `PRAGMA data_version` moves whenever another
   * connection (the server's) commits, so an unchanged version means the previous snapshot is still exact.
   * Most fuzz cases are refusals that write nothing but volatile rows, and a refused case's "after" is the
   * next case's "before": this halves the full reads or better.
   */
  take(): DbSnapshot {
    const version = this.db.pragma('data_version', { simple: true }) as number;
    if (this.last?.version === version) return this.last.snapshot;
    const snapshot = this.read();
    this.last = { version, snapshot };
    return snapshot;
  }

  private read(): DbSnapshot {
    const snapshot: DbSnapshot = {};
    for (const table of this.tables) {
      const rows = this.db.prepare(`SELECT * FROM "${table}"`).all() as Array<Record<string, unknown>>;
      snapshot[table] = rows
        .map((row) => project(table, row))
        .filter((row): row is Record<string, unknown> => row !== null)
        .map((row) => JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('hex') : v)))
        .sort();
    }
    return snapshot;
  }

  close(): void {
    this.db.close();
  }
}

/** The row as compared: volatile columns dropped; a presence row that records no sign-out is not compared at all. */
function project(table: string, row: Record<string, unknown>): Record<string, unknown> | null {
  if (table === 'presence' && row.signed_out_at === null) return null;
  const drop = VOLATILE_COLUMNS[table] ?? [];
  return Object.fromEntries(Object.entries(row).filter(([k]) => !drop.includes(k)));
}

/** The tables whose rows differ between two snapshots, with the rows gone and the rows new. */
export function snapshotDiff(before: DbSnapshot, after: DbSnapshot): Record<string, { gone: string[]; added: string[] }> {
  const diff: Record<string, { gone: string[]; added: string[] }> = {};
  for (const table of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = new Set(before[table] ?? []);
    const b = new Set(after[table] ?? []);
    const gone = [...a].filter((r) => !b.has(r));
    const added = [...b].filter((r) => !a.has(r));
    if (gone.length > 0 || added.length > 0) diff[table] = { gone, added };
  }
  return diff;
}
