/** One system call of an `strace -f -y` log: where it began and ended (line numbers), on which file. */
export interface TraceEvent {
  pid: number;
  call: string;
  /** The path `-y` shows for the call's first descriptor (`socket:[…]` for sockets), or, for openat, the result's. */
  path: string | undefined;
  start: number;
  end: number;
  text: string;
}

const LINE = /^(\d+)\s+(\w+)\((.*)$/;
const RESUMED = /^(\d+)\s+<\.\.\. (\w+) resumed>(.*)$/;
const DESCRIPTOR_PATH = /^\d+<([^>]*)>/;
const RESULT_PATH = /= \d+<([^>]*)>\s*$/;

/**
 * Parses `strace -f -y` output. Calls that other threads interrupt are split into "<unfinished ...>"
 * and "<... resumed>" lines: they are joined, so that `end` is the line at which the call returned.
 */
export function readTrace(log: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  const pending = new Map<string, TraceEvent>();
  log.split('\n').forEach((line, i) => {
    const resumed = RESUMED.exec(line);
    if (resumed) {
      const event = pending.get(`${resumed[1]} ${resumed[2]}`);
      if (!event) return;
      pending.delete(`${resumed[1]} ${resumed[2]}`);
      event.end = i;
      event.text += resumed[3];
      if (event.call === 'openat') event.path = RESULT_PATH.exec(event.text)?.[1];
      events.push(event);
      return;
    }
    const call = LINE.exec(line);
    if (!call) return;
    const [, pid, name, rest] = call as unknown as [string, string, string, string];
    const event: TraceEvent = { pid: Number(pid), call: name, path: DESCRIPTOR_PATH.exec(rest)?.[1], start: i, end: i, text: rest };
    if (rest.endsWith('<unfinished ...>')) {
      pending.set(`${pid} ${name}`, event);
      return;
    }
    if (name === 'openat') event.path = RESULT_PATH.exec(rest)?.[1];
    events.push(event);
  });
  return events.sort((a, b) => a.start - b.start);
}
