// The store: the one module that owns the lowdb instance. Reads are synchronous views of the
// in-memory document. `write(mutate)` runs a mutation that changes rows only through its `tx`
// (put = upsert by primary key, del = delete) and resolves once those changes are durable.
//
// Durability: concurrent writes are grouped (group commit): while one journal append is in
// flight, every mutation that arrives joins the next one. Each append is fdatasynced before the
// writes in it are acknowledged. The journal is compacted into store.json (a lowdb file written
// with fsync + rename + directory fsync) when it grows, at start and at close.
import { Low } from 'lowdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { DurableJSONFile } from './adapter';
import { acquireHomeLock } from './lock';
import { Journal, applyOps, keyOf, type Op, type RowOf, type TableName } from './journal';
import { migrate, type Data, type PassportRow } from './schema';
import type { Logger } from '../log';

export * from './schema';
export type { TableName, RowOf } from './journal';

/** The document as services see it: tables cannot be reassigned or pushed to, only changed through Tx. */
export type View = { readonly schema_version: number } & { readonly [T in TableName]: readonly RowOf<T>[] };

/** How a mutation changes rows. Rows may be edited in place, then `put` again to record them. */
export interface Tx {
  put<T extends TableName>(table: T, row: RowOf<T>): void;
  del<T extends TableName>(table: T, key: string): void;
}

interface Waiter {
  ops: Op[];
  resolve(): void;
  reject(e: unknown): void;
}

const COMPACT_BYTES = Number(process.env.ONMEMOS_JOURNAL_COMPACT_BYTES ?? 16 * 1024 * 1024);

export class Store {
  private pending: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;
  /** Secondary indexes, kept up to date by every tx change: table → field → value → row. */
  private readonly secondary = new Map<string, Map<string, unknown>>();
  private readonly index = new Map<TableName, Map<string, unknown>>();
  /** Durable appends (group commits) and snapshot rewrites so far, for tests and benchmarks. */
  fileWrites = 0;
  compactions = 0;

  private constructor(
    private readonly db: Low<Data>,
    readonly adapter: DurableJSONFile<Data>,
    readonly journal: Journal,
    private readonly releaseLock: () => void,
    private readonly log?: Logger,
  ) {}

  /** Open (and lock) the store in `home`. Throws HomeLockedError if another daemon owns it. */
  static async open(home: string, log?: Logger, options: { lock?: boolean } = {}): Promise<Store> {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const lock = options.lock === false ? { release() {}, recoveredFrom: undefined } : acquireHomeLock(home);
    if (lock.recoveredFrom) log?.warn('recovered stale home lock', { stale_pid: lock.recoveredFrom.pid });
    try {
      const adapter = new DurableJSONFile<Data>(join(home, 'store.json'));
      await adapter.discardTemp();
      const { data, from } = migrate((await adapter.read()) as Record<string, unknown> | null);
      const journal = new Journal(join(home, 'store.journal'));
      const ops = await journal.read();
      applyOps(data, ops);
      const db = new Low<Data>(adapter, data);
      db.data = data;
      const store = new Store(db, adapter, journal, () => lock.release(), log);
      if (from === null || from !== data.schema_version || ops.length) {
        if (from !== data.schema_version) log?.info('store migrated', { from, to: data.schema_version });
        await store.compact();
      }
      return store;
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** The current document. Read-only: change it only through write()'s tx. */
  get data(): View {
    return this.db.data;
  }

  private tableIndex(table: TableName): Map<string, unknown> {
    let m = this.index.get(table);
    if (!m) {
      m = new Map((this.db.data[table] as unknown[]).map((r) => [keyOf(table, r as never), r]));
      this.index.set(table, m);
    }
    return m;
  }

  /**
   * Run `mutate` and resolve with its result once its changes are durable. `mutate` must
   * validate before it changes anything: if it throws after a tx change, that change is kept
   * (and journaled, so memory and disk agree) and the error is logged as a bug.
   */
  write<R>(mutate: (data: View, tx: Tx) => R): Promise<R> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    const ops: Op[] = [];
    // Changes apply to memory at once (later reads in the same mutation see them) and become
    // durable when the journal append that carries them completes.
    const apply = (op: Op) => {
      ops.push(op);
      const idx = this.tableIndex(op.t);
      const table = this.db.data[op.t] as unknown[];
      if ('del' in op) {
        const row = idx.get(op.k);
        if (row !== undefined) { idx.delete(op.k); table.splice(table.indexOf(row), 1); this.updateSecondary(op.t, row, undefined); }
      } else {
        const existing = idx.get(op.k);
        if (existing === undefined) table.push(op.row);
        else if (existing !== op.row) table[table.indexOf(existing)] = op.row;
        idx.set(op.k, op.row);
        if (existing !== op.row) this.updateSecondary(op.t, existing, op.row);
      }
    };
    const tx: Tx = {
      put: (table, row) => apply({ t: table, k: keyOf(table, row), row }),
      del: (table, key) => apply({ t: table, k: key, del: 1 }),
    };
    let result: R;
    try {
      result = mutate(this.db.data, tx);
    } catch (e) {
      if (ops.length) this.log?.error('a store mutation threw after changing rows; they stay in memory', { error: String(e) });
      if (!ops.length) return Promise.reject(e);
      this.pending.push({ ops, resolve: () => undefined, reject: () => undefined });
      this.kick();
      return Promise.reject(e);
    }
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ ops, resolve: () => resolve(result), reject });
      this.kick();
    });
  }

  /** Start the flush loop unless it runs; a write that arrives as it ends starts it again. */
  private kick(): void {
    if (this.flushing) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = null;
      if (this.pending.length) this.kick();
    });
  }

  private async flushLoop(): Promise<void> {
    await null; // never finish synchronously: `flushing` must be set before the loop can end
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      try {
        // Rows are serialized now, as they are: later in-place edits go into later appends.
        const ops = batch.flatMap((w) => w.ops);
        if (ops.length) await this.journal.append(ops);
        this.fileWrites++;
        for (const w of batch) w.resolve();
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
      if (this.journal.bytes > COMPACT_BYTES) await this.compact().catch((e) => this.log?.error('compaction failed', { error: String(e) }));
    }
  }

  /** Write the whole document to store.json durably, then empty the journal. */
  private async compact(): Promise<void> {
    await this.db.write();
    await this.journal.truncate();
    this.fileWrites++;
    this.compactions++;
  }

  /**
   * Wait for in-flight writes, compact, release the lock. With ONMEMOS_STORE_VERIFY=1 (tests),
   * first check that snapshot + journal replay to exactly the in-memory document.
   */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    try {
      if (process.env.ONMEMOS_STORE_VERIFY === '1') await this.verify();
      await this.compact();
      await this.journal.close();
    } finally {
      this.releaseLock();
    }
  }

  async verify(): Promise<void> {
    const { data } = migrate((await this.adapter.read()) as Record<string, unknown> | null);
    applyOps(data, await this.journal.read());
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(data)), JSON.parse(JSON.stringify(this.db.data)))) {
      throw new Error('store verification failed: the journal does not replay to the in-memory document (a change bypassed tx)');
    }
  }

  /** The row of `table` with primary key `key` (the index the writes keep), without a scan. */
  get<T extends TableName>(table: T, key: string): RowOf<T> | undefined {
    return this.tableIndex(table).get(key) as RowOf<T> | undefined;
  }

  /**
   * The row of `table` whose unique `field` equals `value`, from an index kept current by writes.
   * Only for fields that never change once a row exists (a user's email, a passport's hash).
   */
  findBy<T extends TableName>(table: T, field: keyof RowOf<T> & string, value: string): RowOf<T> | undefined {
    const name = `${table}.${field}`;
    let m = this.secondary.get(name);
    if (!m) {
      m = new Map((this.db.data[table] as RowOf<T>[]).map((r) => [String(r[field as keyof RowOf<T>]), r]));
      this.secondary.set(name, m);
    }
    return m.get(value) as RowOf<T> | undefined;
  }

  private updateSecondary(table: TableName, before: unknown, after: unknown): void {
    for (const [name, m] of this.secondary) {
      const [t, field] = name.split('.') as [TableName, string];
      if (t !== table) continue;
      if (before !== undefined) m.delete(String((before as Record<string, unknown>)[field]));
      if (after !== undefined) m.set(String((after as Record<string, unknown>)[field]), after);
    }
  }

  passportByHash(hash: string): PassportRow | undefined {
    return this.findBy('passports', 'key_hash', hash);
  }
}
