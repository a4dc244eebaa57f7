import { StoreUnavailableError } from './types.js';

/**
 * Wraps every method of an aggregate store so that errors meaning "the database is not there"
 * (as the adapter's `isUnavailable` judges them) become StoreUnavailableError, answered 503.
 */
export function guardUnavailable<T extends object>(aggregate: T, isUnavailable: (err: unknown) => boolean): T {
  const guarded = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(aggregate)) {
    if (typeof fn !== 'function') {
      guarded[name] = fn;
      continue;
    }
    guarded[name] = async (...args: unknown[]) => {
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>).apply(aggregate, args);
      } catch (err) {
        if (isUnavailable(err)) throw new StoreUnavailableError(undefined, { cause: err });
        throw err;
      }
    };
  }
  return guarded as T;
}
