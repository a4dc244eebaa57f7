import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOpenApi } from '../../scripts/gen-api-docs.js';
import { WIRE_TYPES_FILE, wireTypesSource } from '../../scripts/gen-client-wire-types.js';

// The SDK's wire types (client/src/types.ts) are named from client/src/wire/openapi.ts, generated from
// the OpenAPI document the server serves. The generated file is committed (the SDK builds on a fresh
// clone without starting a server); this test generates it again from the current routes and fails
// when the committed copy is stale, so a route change reaches the SDK's type check (`tsc`) at once.

describe('client/src/wire/openapi.ts', () => {
  it("is what openapi-typescript makes of the server's OpenAPI document now (else run npm run wire-types)", async () => {
    const committed = readFileSync(join(process.cwd(), WIRE_TYPES_FILE), 'utf8');
    expect(committed).toBe(await wireTypesSource(await loadOpenApi()));
  });
});
