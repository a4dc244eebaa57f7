import type { WriteFailure } from '../types.js';

/**
 * PostgreSQL's answers that mean "the database cannot serve this now" rather than "this request is wrong":
 * answered 503 with Retry-After, like SQLite's storage failures. PostgreSQL has rolled the transaction back.
 * SQLSTATE classes: 08 connection exception, 53 insufficient resources (53100 disk full), 57P01..57P03
 * shutdown or not yet accepting connections, 57014 a statement cancelled (the statement timeout), 58 system
 * (I/O) errors, 25006 a read-only transaction (a hot standby, default_transaction_read_only), and 40001 /
 * 40P01 serialization failures and deadlocks once their retries are spent (tx.ts).
 */
const UNAVAILABLE_SQLSTATES = /^(08|53|57P0[1-3]|57014|58|25006|40001|40P01)/;

/** Node's socket errors and pg's own words for a connection that is gone or never came. */
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Cannot use a pool after calling end',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'connection timeout',
];

/** A string property of an error-like value, or '' (codes and messages are strings; anything else is no match). */
const textOf = (err: unknown, key: 'code' | 'message'): string => {
  const value = (err as Record<string, unknown> | null | undefined)?.[key];
  return typeof value === 'string' ? value : '';
};
const codeOf = (err: unknown): string => textOf(err, 'code');

/** True for an error that means the database is unreachable, shutting down, full or read-only: answered 503. */
export function isPostgresUnavailable(err: unknown): boolean {
  // Duck-typed, not instanceof: errors from Node's own modules may come from another realm (a VM context).
  if (typeof err !== 'object' || err === null) return false;
  const code = codeOf(err);
  if (UNAVAILABLE_SQLSTATES.test(code) && code.length === 5) return true;
  if (UNAVAILABLE_NODE_CODES.has(code)) return true;
  // Connecting to a host name with several addresses fails with all of their errors at once.
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.some(isPostgresUnavailable)) return true;
  const message = textOf(err, 'message');
  return UNAVAILABLE_MESSAGES.some((m) => message.includes(m));
}

/** What /health reports for a failed write probe: why the write could not happen. */
export function writeFailureOf(err: unknown): WriteFailure {
  const code = codeOf(err);
  if (code === '53100') return 'disk_full';
  if (code === '25006') return 'read_only';
  if (code.startsWith('58')) return 'io_error';
  return 'write_failed';
}

/** SQLSTATEs a transaction is retried on: PostgreSQL chose it as the loser of a conflict, nothing was written. */
export const isRetryable = (err: unknown): boolean => ['40001', '40P01'].includes(codeOf(err));

/** A foreign key pointed at a row that is gone (the user or session was deleted meanwhile). */
export const isForeignKeyViolation = (err: unknown): boolean => codeOf(err) === '23503';
export const isUniqueViolation = (err: unknown): boolean => codeOf(err) === '23505';
