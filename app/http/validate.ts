import type { z } from 'zod';
import { validationFailed, type FieldProblem } from '../core/errors.js';

function problems(error: z.ZodError, prefix: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of error.issues) {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: [path, key].filter(Boolean).join('.'), message: 'is not a known field' });
    } else {
      out.push({ field: path || '(body)', message: issue.message });
    }
  }
  return out;
}

/** Parses each part with its schema; any failure answers 400 validation_failed listing every bad field. */
export function parseInput(parts: Array<[schema: z.ZodType | undefined, value: unknown, prefix: string]>): unknown[] {
  const fields: FieldProblem[] = [];
  const values = parts.map(([schema, value, prefix]) => {
    if (!schema) return undefined;
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    fields.push(...problems(result.error, prefix));
    return undefined;
  });
  if (fields.length > 0) throw validationFailed(fields);
  return values;
}
