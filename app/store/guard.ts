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
    const translate = (err: unknown): never => {
      if (isUnavailable(err)) throw new StoreUnavailableError(undefined, { cause: err });
      throw err;
    };
    // Synchronous methods (watchArrivals) stay synchronous; promises get their rejection translated.
    guarded[name] = (...args: unknown[]) => {
      try {
        const result = (fn as (...a: unknown[]) => unknown).apply(aggregate, args);
        return result instanceof Promise ? result.catch(translate) : result;
      } catch (err) {
        return translate(err);
      }
    };
  }
  return guarded as T;
}
