import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { makeTestApp } from '../helpers/app.js';
import { useTestApp } from '../helpers/perTest.js';

const t = useTestApp();

/** Every byte SQLite wrote: the database, its WAL and shared-memory files. */
const storedBytes = () =>
  Buffer.concat(
    readdirSync(t.dir)
      .filter((f) => f.startsWith('signalbox.db'))
      .map((f) => readFileSync(join(t.dir, f))),
  );

describe('personal data at rest', () => {
  beforeEach(async () => {
    const res = await t.http
      .post('/auth/register')
      .send({ username: 'dora', email: 'Dora.Explorer@Example.org', password: 'correct horse battery', birthday: '1987-11-05' });
    expect(res.status).toBe(201);
  });

  it('stores no e-mail address or birthday in readable form on disk', () => {
    const bytes = storedBytes();
    for (const secret of ['Dora.Explorer@Example.org', 'dora.explorer@example.org', 'Dora.Explorer', '1987-11-05']) {
      expect(bytes.includes(secret)).toBe(false);
    }
    expect(bytes.includes('dora')).toBe(true); // the username is public and stored as is
  });

  it('stores the password only as an argon2id hash', async () => {
    const user = (await t.store.users.findByUsername('dora'))!;
    expect(user.passwordHash).toMatch(/^\$argon2id\$/);
    expect(storedBytes().includes('correct horse battery')).toBe(false);
  });

  it('cannot read the address back with another DATA_KEY', async () => {
    const user = (await t.store.users.findByUsername('dora'))!;
    const other = makeTestApp({ env: { DATA_KEY: Buffer.alloc(32, 3).toString('base64') } });
    try {
      await other.store.users.create(user);
      // Logging in by e-mail needs the keyed blind index, which another key cannot reproduce.
      const res = await other.http.post('/auth/login').send({ username: 'Dora.Explorer@Example.org', password: 'correct horse battery' });
      expect(res.status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('finds the account by e-mail through the keyed index', async () => {
    const res = await t.http.post('/auth/login').send({ username: 'dora.explorer@example.org', password: 'correct horse battery' });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ email: 'Dora.Explorer@Example.org', birthday: '1987-11-05' });
  });
});
