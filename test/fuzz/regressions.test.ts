import { describe, it } from '@jest/globals';
import { useTestApp } from '../helpers/perTest.js';
import { expectApiError } from '../http/errorShape.js';

// Cases the OpenAPI fuzz (openapiFuzz.test.ts) found, kept as plain tests so they stay fixed whatever seed runs.

const t = useTestApp();

describe('GET /docs/assets/{file}', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])('answers 404 not_found for %s, a name every object inherits', async (file) => {
    expectApiError(await t.http.get(`/docs/assets/${file}`), 404, 'not_found');
  });
});
