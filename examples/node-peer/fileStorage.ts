import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyValueStorage } from '../../client/src/index.js';

/**
 * A small async key-value storage in one JSON file, shaped like React Native's AsyncStorage (every
 * method returns a promise), so the device keeps its session and private key across restarts.
 *
 * Writes are serialised and atomic (a temp file renamed over the old one): a crash mid-write leaves
 * the previous file, never half of one. The file holds the private key: it is created mode 0600.
 */
export class FileStorage implements KeyValueStorage {
  private items: Map<string, string> | null = null;
  /** The one read of the file: every early caller waits on it, so they resume in the order they called. */
  private loading: Promise<Map<string, string>> | null = null;
  /** The last write, so writes land in the order they were made. */
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  async getItem(key: string): Promise<string | null> {
    return (await this.load()).get(key) ?? null;
  }

  async setItem(key: string, value: string): Promise<void> {
    (await this.load()).set(key, value);
    await this.persist();
  }

  async removeItem(key: string): Promise<void> {
    if ((await this.load()).delete(key)) await this.persist();
  }

  private load(): Promise<Map<string, string>> {
    this.loading ??= this.read().then((items) => (this.items = items));
    return this.loading;
  }

  private async read(): Promise<Map<string, string>> {
    let entries: Record<string, string> = {};
    try {
      entries = JSON.parse(await readFile(this.path, 'utf8')) as Record<string, string>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // a corrupt file is not silently replaced
    }
    return new Map(Object.entries(entries));
  }

  private persist(): Promise<void> {
    const text = JSON.stringify(Object.fromEntries(this.items ?? []));
    const next = this.writing.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const temp = `${this.path}.${process.pid}.tmp`;
      await writeFile(temp, text, { mode: 0o600 });
      await rename(temp, this.path);
    });
    this.writing = next.catch(() => {}); // one failed write does not block the next ones
    return next;
  }
}
