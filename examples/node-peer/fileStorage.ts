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

  private async load(): Promise<Map<string, string>> {
    if (this.items) return this.items;
    let entries: Record<string, string> = {};
    try {
      entries = JSON.parse(await readFile(this.path, 'utf8')) as Record<string, string>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // a corrupt file is not silently replaced
    }
    // Two first calls at once both read; the first to finish wins, so neither loses the other's writes.
    this.items ??= new Map(Object.entries(entries));
    return this.items;
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
