// A lowdb adapter whose write is durable: the JSON goes to a temp file that is fsynced, renamed over
// the store file, and the directory is fsynced, so after a crash (kill -9, power loss) the file is
// either the previous or the new version, never torn. lowdb's own TextFile adapter (steno) renames
// without fsync; its test-mode Memory adapter is never used here.
import type { Adapter } from 'lowdb';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export class DurableJSONFile<T> implements Adapter<T> {
  private readonly tmp: string;
  /** Called after the temp file is durable and before the rename (tests inject a crash here). */
  beforeRename?: () => Promise<void> | void;

  constructor(readonly filename: string) {
    this.tmp = join(dirname(filename), `.${basename(filename)}.tmp`);
  }

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.filename, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new Error(`store file ${this.filename} is not valid JSON (${(e as Error).message}); ` +
        'restore it from a backup or move it away to start empty');
    }
  }

  async write(data: T): Promise<void> {
    const text = JSON.stringify(data);
    const fh = await open(this.tmp, 'w', 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.datasync();
    } finally {
      await fh.close();
    }
    if (this.beforeRename) await this.beforeRename();
    await rename(this.tmp, this.filename);
    const dir = await open(dirname(this.filename), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Remove a temp file left by a crash between write and rename (its content was never acknowledged). */
  async discardTemp(): Promise<void> {
    await unlink(this.tmp).catch(() => undefined);
  }
}
