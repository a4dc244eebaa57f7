import { beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOpenApi, renderApiDocs, repoRoot, type OpenApiDocument } from '../../scripts/gen-api-docs.js';
import { generatedFileVerdict } from '../helpers/generatedFile.js';

let doc: OpenApiDocument;
let rendered: string;
beforeAll(async () => {
  doc = await loadOpenApi();
  rendered = renderApiDocs(doc);
});

/** The Markdown section of one operation, from its heading to the next one. */
function section(markdown: string, method: string, path: string): string {
  const start = markdown.indexOf(`\n### ${method} ${path}\n`);
  if (start < 0) return '';
  const end = markdown.indexOf('\n### ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

describe('docs/api.md', () => {
  it('is exactly what `npm run docs:api` renders from the current code', () => {
    const committed = readFileSync(join(repoRoot(), 'docs', 'api.md'), 'utf8');
    const verdict = generatedFileVerdict('docs/api.md', committed, rendered, 'run `npm run docs:api` and commit the result');
    expect(verdict).toBe('up to date');
  });
});

describe('renderApiDocs', () => {
  it('renders a section for every operation in the OpenAPI document', () => {
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => [m.toUpperCase(), path] as const));
    expect(operations.length).toBeGreaterThan(5);
    const missing = operations.filter(([m, p]) => section(rendered, m, p) === '').map(([m, p]) => `${m} ${p}`);
    expect(missing).toEqual([]);
  });

  it('opens with the error shape and the conventions', () => {
    const intro = rendered.slice(0, rendered.indexOf('\n## Endpoints'));
    expect(intro).toContain('## Conventions');
    expect(intro).toContain('{"error": {"code": ');
    expect(intro).toContain('Authorization: Bearer <accessToken>');
    expect(intro).toMatch(/\| 409 \| `username_taken` \|/);
  });

  it('lists each request body field with its type, whether it is required and its rules', () => {
    const register = section(rendered, 'POST', '/auth/register');
    expect(register).toContain('| `password` | `string` | yes | 8-256 characters |');
    expect(register).toMatch(/\| `birthday` \| `string \\\| null` \| no \| matches `\^\\d\{4\}-\\d\{2\}-\\d\{2\}\$` \|/);
  });

  it('shows each shape of a union body (the push subscription), never an empty object', () => {
    const push = section(rendered, 'PUT', '/users/me/devices/{id}/push');
    expect(push).not.toContain('An empty object');
    for (const kind of ['webpush', 'gateway', 'apns', 'fcm']) expect(push).toContain(`With \`kind: "${kind}"\`:`);
    expect(push).toMatch(/\| `keys\.p256dh` \| `string` \| yes \|/);
    expect(push).toMatch(/\| `pushkey` \| `string` \| yes \|/);
  });

  it('states which endpoints need an access token and which need none', () => {
    expect(section(rendered, 'GET', '/users/me')).toContain('**Auth:** `Authorization: Bearer <accessToken>`');
    expect(section(rendered, 'POST', '/auth/register')).toContain('**Auth:** none');
  });

  it('gives the summary, the description and the fields of the success response', () => {
    const login = section(rendered, 'POST', '/auth/login');
    expect(login).toContain('Sign in with username, @username or e-mail address.');
    expect(login).toContain('Wrong password and unknown account get the same answer');
    expect(login).toContain('- `200`: A new session. Body:');
    expect(login).toContain('| `user.username` | `string` |');
  });

  it('lists the error codes of an endpoint under their statuses', () => {
    const register = section(rendered, 'POST', '/auth/register');
    expect(register).toContain('| 409 | `username_taken`, `email_taken` |');
    expect(register).toContain('| 400 | `invalid_json`, `validation_failed`, `invalid_pgp_key` |');
    expect(section(rendered, 'GET', '/metrics')).toContain('| 401 | `unauthorized` |');
  });

  it('changes when an operation is added, so a stale docs/api.md is caught', () => {
    const extra: OpenApiDocument = {
      ...doc,
      paths: {
        ...doc.paths,
        '/things/{id}': {
          get: { tags: ['Things'], summary: 'One thing', security: [{ bearer: [] }], responses: { 200: { description: 'The thing.' } } },
        },
      },
    };
    const changed = renderApiDocs(extra);
    expect(changed).not.toBe(rendered);
    expect(section(changed, 'GET', '/things/{id}')).toContain('One thing.');
  });
});
