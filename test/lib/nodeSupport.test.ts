import { describe, expect, it } from '@jest/globals';
import { nodeEndOfLifeWarning } from '../../app/lib/nodeSupport.js';

describe('nodeEndOfLifeWarning', () => {
  it('warns on Node 20 in one line, naming its end of life and what to move to', () => {
    const line = nodeEndOfLifeWarning('20.19.4')!;
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toContain('Node 20 reached its end of life on 2026-04-30');
    expect(line).toContain('Node 22 or 24');
  });

  it('says nothing on the supported lines', () => {
    for (const version of ['22.12.0', '24.1.0', '26.0.0']) expect(nodeEndOfLifeWarning(version)).toBeNull();
  });
});
