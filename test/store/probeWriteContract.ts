import { describe, expect, it } from '@jest/globals';
import type { Store } from '../../app/store/types.js';
import { freshStorePerTest, type OpenedStore } from './contract.js';

/** Store.probeWrite, GET /health's write probe (docs/architecture.md): a real write, repeatable, concurrent calls included. */
export function describeProbeWriteContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: write probe`, () => {
    let store: Store;
    freshStorePerTest(open, (s) => (store = s));

    it('answers null on a store that takes writes, again and again', async () => {
      expect(await store.probeWrite()).toBeNull();
      expect(await store.probeWrite()).toBeNull();
      expect(await Promise.all([store.probeWrite(), store.probeWrite()])).toEqual([null, null]);
    });
  });
}
