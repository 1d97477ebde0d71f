// Shared by the daemon's shell client and the supervisor/agent shells.
import type { RawData } from 'ws';

/** A ws message as one Buffer, without copying what already is one (Buffer.from(buffer) copies). */
export function rawBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
