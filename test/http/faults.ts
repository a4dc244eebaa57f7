import type { Store } from '../../app/store/types.js';

/** A switch for one store method: while armed, every call throws `value`. */
export class Fault {
  armed = false;
  value: unknown;
  arm(value: unknown): void {
    this.value = value;
    this.armed = true;
  }
}

type Aggregate = 'users' | 'sessions';

/**
 * A `wrapStore` for makeTestApp that makes `store[aggregate][method]` throw while `fault` is armed,
 * and behave normally otherwise, so a user can be set up first and the failure injected after.
 */
export function withFault<A extends Aggregate>(aggregate: A, method: keyof Store[A] & string, fault: Fault) {
  return (store: Store): Store => {
    const real = store[aggregate] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const original = real[method]!;
    const wrapped = {
      ...real,
      [method]: async (...args: unknown[]) => {
        if (fault.armed) throw fault.value;
        return original.apply(real, args);
      },
    };
    return { ...store, [aggregate]: wrapped };
  };
}
