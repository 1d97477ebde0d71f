// The store's write-ahead journal: each group commit appends one line of row-level operations
// (`put` = upsert by primary key, `del` = delete by key) and fdatasyncs it, so an acknowledged
// write costs a small append instead of rewriting a multi-megabyte document. The journal is
// compacted into the lowdb file (store.json) when it grows, at start and at shutdown.
import { writeSync } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import type { Data } from './schema';

export type TableName = Exclude<keyof Data, 'schema_version'>;
export type RowOf<T extends TableName> = Data[T][number];

export type Op = { t: TableName; k: string; row: unknown } | { t: TableName; k: string; del: 1 };

/** Primary key of each table's rows. */
export const KEYS: { [T in TableName]: (row: RowOf<T>) => string } = {
  users: (r) => r.user_id,
  passports: (r) => r.passport_id,
  workspaces: (r) => r.workspace_id,
  storage_resources: (r) => r.resource_id,
  sessions: (r) => r.session_id,
  session_attachments: (r) => `${r.session_id}/${r.resource_id}`,
  products: (r) => r.product_id,
  prices: (r) => r.price_id,
  purchase_orders: (r) => r.order_id,
  usage_records: (r) => r.usage_id,
  credit_transactions: (r) => r.tx_id,
};

export const keyOf = <T extends TableName>(table: T, row: RowOf<T>): string => (KEYS[table] as (r: RowOf<T>) => string)(row);

/**
 * Apply journal operations to a document (replay at start; idempotent), in time linear in the
 * operations and the rows: each table touched is worked on as a Map by key, whose insertion order is
 * the array's (a put of a present key keeps its place, a new key goes last, a delete closes the gap),
 * and written back into the same array once at the end.
 */
export function applyOps(data: Data, ops: Op[]): void {
  const tables = new Map<TableName, Map<string, unknown>>();
  for (const op of ops) {
    let rows = tables.get(op.t);
    if (!rows) tables.set(op.t, (rows = new Map((data[op.t] as unknown[]).map((r) => [keyOf(op.t, r as never), r]))));
    if ('del' in op) rows.delete(op.k);
    else rows.set(op.k, op.row);
  }
  for (const [t, rows] of tables) {
    const table = data[t] as unknown[];
    table.length = 0;
    for (const r of rows.values()) table.push(r);
  }
}

export class Journal {
  private fh: FileHandle | null = null;
  bytes = 0;

  constructor(readonly filename: string) {}

  /** Operations in the journal; a torn last line (a crash mid-append, never acknowledged) is dropped. */
  async read(): Promise<Op[]> {
    let text: string;
    try {
      text = await readFile(this.filename, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const lines = text.split('\n');
    const ops: Op[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (!line) continue;
      try {
        ops.push(...(JSON.parse(line) as { ops: Op[] }).ops);
      } catch (e) {
        const last = lines.slice(i + 1).every((l) => !l);
        if (last) break; // torn tail
        throw new Error(`journal ${this.filename} is corrupt at line ${i + 1}: ${(e as Error).message}`);
      }
    }
    return ops;
  }

  async append(ops: Op[]): Promise<void> {
    this.fh ??= await open(this.filename, 'a', 0o600);
    const buf = Buffer.from(JSON.stringify({ ops }) + '\n');
    // The write itself is a copy into the page cache (microseconds): done here rather than as a
    // threadpool round trip, which can queue behind other fs work. Only the fdatasync waits there.
    for (let off = 0; off < buf.length;) off += writeSync(this.fh.fd, buf, off);
    await this.fh.datasync();
    this.bytes += buf.length;
  }

  /** Empty the journal once its content is in the snapshot. */
  async truncate(): Promise<void> {
    this.fh ??= await open(this.filename, 'a', 0o600);
    await this.fh.truncate(0);
    await this.fh.sync();
    this.bytes = 0;
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = null;
  }
}
