// The store: the one module that owns the lowdb instance. Reads are synchronous views of the
// in-memory document; `write(mutate)` applies a mutation at once and resolves only when a file
// write containing it is durable. Concurrent writes are coalesced into one file write (group
// commit): while one write is in flight, every mutation that arrives joins the next one.
import { Low } from 'lowdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DurableJSONFile } from './adapter';
import { acquireHomeLock } from './lock';
import { migrate, type Data, type PassportRow } from './schema';
import type { Logger } from '../log';

export * from './schema';

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

export class Store {
  private pending: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;
  private generation = 0;
  private passportIndex: { generation: number; byHash: Map<string, PassportRow> } | null = null;
  /** Number of file writes so far (for tests and benchmarks of the group commit). */
  fileWrites = 0;

  private constructor(
    private readonly db: Low<Data>,
    readonly adapter: DurableJSONFile<Data>,
    private readonly releaseLock: () => void,
  ) {}

  /** Open (and lock) the store in `home`. Throws HomeLockedError if another daemon owns it. */
  static async open(home: string, log?: Logger, options: { lock?: boolean } = {}): Promise<Store> {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const lock = options.lock === false ? { release() {}, recoveredFrom: undefined } : acquireHomeLock(home);
    if (lock.recoveredFrom) log?.warn('recovered stale home lock', { stale_pid: lock.recoveredFrom.pid });
    try {
      const adapter = new DurableJSONFile<Data>(join(home, 'store.json'));
      await adapter.discardTemp();
      const raw = (await adapter.read()) as Record<string, unknown> | null;
      const { data, from } = migrate(raw);
      const db = new Low<Data>(adapter, data);
      db.data = data;
      const store = new Store(db, adapter, () => lock.release());
      if (from === null || from !== data.schema_version) {
        log?.info('store migrated', { from, to: data.schema_version });
        await db.write();
      }
      return store;
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** The current document. Treat as read-only: change it only inside write(). */
  get data(): Readonly<Data> {
    return this.db.data;
  }

  /**
   * Apply `mutate` to the document and resolve with its result once that change is on disk.
   * `mutate` must validate before it changes anything: if it throws, nothing is written.
   */
  write<R>(mutate: (data: Data) => R): Promise<R> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    let result: R;
    try {
      result = mutate(this.db.data);
    } catch (e) {
      return Promise.reject(e);
    }
    this.generation++;
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ resolve: () => resolve(result), reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.db.write(); // serializes synchronously: holds every mutation of `batch`
        this.fileWrites++;
        for (const w of batch) w.resolve();
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    }
    this.flushing = null;
  }

  /** Wait for in-flight writes; later writes are refused. The lock is released. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    this.releaseLock();
  }

  passportByHash(hash: string): PassportRow | undefined {
    if (!this.passportIndex || this.passportIndex.generation !== this.generation) {
      this.passportIndex = { generation: this.generation, byHash: new Map(this.db.data.passports.map((p) => [p.key_hash, p])) };
    }
    return this.passportIndex.byHash.get(hash);
  }
}
