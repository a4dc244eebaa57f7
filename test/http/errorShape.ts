import { expect } from '@jest/globals';
import type { Response } from 'supertest';

// What a leaked stack trace or source location looks like in a body: V8 frames and file paths.
const STACK_FRAME = /\bat\s+(?:async\s+)?\S+\s+\(|\bat\s+\S+:\d+:\d+|\n\s+at\s/;
const SOURCE_PATH = /(?:\/[\w.@-]+)+\.(?:ts|js|mjs|cjs)\b|node_modules|file:\/\/|\/work\/|\/home\/|\/tmp\//;

/**
 * Asserts the single error shape of the API contract: `{error: {code, message, details?}}` and
 * nothing else, the given status (never a 500 unless asked), a JSON content type and no stack trace.
 */
export function expectApiError(res: Response, status: number, code?: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code: code ?? expect.any(String) });
  if (status !== 500) expect(res.status).not.toBe(500);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(Object.keys(res.body)).toEqual(['error']);
  const error = res.body.error as Record<string, unknown>;
  expect(Object.keys(error).every((k) => ['code', 'message', 'details'].includes(k))).toBe(true);
  expect(error.code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  expect(typeof error.message).toBe('string');
  expect((error.message as string).length).toBeGreaterThan(0);
  if ('details' in error) {
    expect(typeof error.details).toBe('object');
    expect(error.details).not.toBeNull();
  }
  expect(res.text).not.toMatch(STACK_FRAME);
  expect(res.text).not.toMatch(SOURCE_PATH);
}

/** The field names a `validation_failed` answer lists. */
export function listedFields(res: Response): string[] {
  const fields = (res.body?.error?.details?.fields ?? []) as Array<{ field: string }>;
  return fields.map((f) => f.field);
}
