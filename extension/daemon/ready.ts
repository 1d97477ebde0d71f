// `onmemos daemon ready admin=http://H:P public=http://H:P` (DESIGN.md "Daemon command line").
export interface ReadyLine { admin: string; public: string }

export function parseReadyLine(line: string): ReadyLine | undefined {
  const m = /onmemos daemon ready admin=(\S+) public=(\S+)/.exec(line);
  return m ? { admin: m[1]!, public: m[2]! } : undefined;
}
