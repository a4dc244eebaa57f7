import {
  MongoBulkWriteError,
  MongoClientClosedError,
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoWriteConcernError,
} from 'mongodb';

/**
 * Server error codes that mean "not now, try again": the primary is being elected or stepped down,
 * the node is shutting down or unreachable, its disk is full, or the operation ran out of time or was
 * interrupted. The numbers are the server's (the driver lists them as MONGODB_ERROR_CODES, not exported).
 * A full disk is answered 503 like SQLite's (sqlite/storageErrors.ts): the write did not happen, and
 * clients retry once an operator has made room.
 */
const TRANSIENT_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  24, // LockTimeout (a lock not granted within the operation's time)
  50, // MaxTimeMSExpired
  64, // WriteConcernFailed (WriteConcernTimeout)
  89, // NetworkTimeout
  91, // ShutdownInProgress
  100, // UnsatisfiableWriteConcern (too few members up)
  133, // FailedToSatisfyReadPreference
  134, // ReadConcernMajorityNotAvailableYet
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10058, // LegacyNotPrimary
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11601, // Interrupted (killOp, or a client's operation killed by the server)
  11602, // InterruptedDueToReplStateChange
  14031, // OutOfDiskSpace
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** Labels the server or driver puts on errors a retry can cure. */
const TRANSIENT_LABELS = [MongoErrorLabel.RetryableWriteError, MongoErrorLabel.TransientTransactionError, MongoErrorLabel.UnknownTransactionCommitResult];

/**
 * A write applied but not acknowledged by enough members (the replica set is degraded). A bulk write
 * that also broke a rule (a duplicate key) is judged by that rule instead.
 */
const hasWriteConcernError = (err: MongoError): boolean => {
  if (err instanceof MongoWriteConcernError) return true;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the constructor is public ("internal use only"): one built elsewhere may carry no result
  if (err instanceof MongoBulkWriteError) return err.result?.getWriteConcernError() !== undefined && !err.result.hasWriteErrors();
  return err instanceof MongoServerError && err.writeConcernError !== undefined;
};

/**
 * Whether `err` means the database is not there for now (answered 503, so clients retry) rather than
 * a bug or bad input (500): no server to select, network failures and timeouts, elections, write
 * concern not met, anything labelled retryable. A duplicate key or validation error is none of these.
 */
export function isMongoUnavailable(err: unknown): boolean {
  if (!(err instanceof MongoError)) return false;
  if (
    err instanceof MongoNetworkError || // includes MongoNetworkTimeoutError
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNotConnectedError || // also the answer to any operation after close
    err instanceof MongoClientClosedError || // the client closing under an operation (shutdown)
    err instanceof MongoTopologyClosedError ||
    err instanceof MongoServerClosedError ||
    err instanceof MongoOperationTimeoutError
  ) {
    return true;
  }
  if (typeof err.code === 'number' && TRANSIENT_CODES.has(err.code)) return true;
  if (TRANSIENT_LABELS.some((label) => err.hasErrorLabel(label))) return true;
  return hasWriteConcernError(err);
}
