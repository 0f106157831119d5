// The load generator: N clients, each on its own keep-alive connection, POSTing one
// request at a time (closed loop), bounded by time and by count.
import { KeepAliveConnection, postRequestBytes } from "./http-client.js";
import { cpuSecondsOf } from "./processes.js";
import { percentile } from "./stats.js";

const REQUEST_TIMEOUT_MS = 10_000;
/** A server that keeps failing is not benchmarked further. */
const MAX_TRANSPORT_ERRORS = 200;

export interface Target {
  /** Full URL of the endpoint, e.g. http://127.0.0.1:40123/webhook/alertmanager */
  url: string;
  headers: Record<string, string>;
}

export interface TimedLoad extends Target {
  /** Request i sends bodies[i % bodies.length]. */
  bodies: readonly Buffer[];
  /**
   * A fixed-width placeholder found in every body (e.g. "000000000000"): each request
   * sends its body with the placeholder replaced by a number no other request of this
   * process used, zero-padded to the same width, so every request is a new notification
   * (an idempotent receiver would otherwise answer repeats as duplicates, writing nothing).
   */
  stamp?: string;
  concurrency: number;
  warmupMs: number;
  /** The measured window, after the warm-up. */
  durationMs: number;
  /** Hard bound on requests issued, warm-up included. */
  maxRequests: number;
  /** Processes whose CPU use over the measured window is reported, by name. */
  watchPids?: Record<string, number>;
  /** Groups of processes (e.g. a database server and its backends), read at each end of the window. */
  watchGroups?: Record<string, () => number[]>;
}

export interface LoadResult {
  /** 2xx answers completed within the measured window. */
  ok: number;
  /** Non-2xx answers and transport errors within the window. */
  failed: number;
  /** Why requests failed ("HTTP 503", "ECONNRESET"), with counts, over the whole run. */
  problems: Record<string, number>;
  windowMs: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** CPU over the window as a fraction of one core: "load generator" plus each watched pid. */
  cpu: Record<string, number | undefined>;
}

export interface EachResult {
  ok: number;
  failed: number;
  problems: Record<string, number>;
  elapsedMs: number;
}

class Problems {
  readonly counts: Record<string, number> = {};
  transportErrors = 0;

  note(problem: string): void {
    this.counts[problem] = (this.counts[problem] ?? 0) + 1;
  }

  noteError(err: unknown): void {
    this.transportErrors += 1;
    this.note((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    if (this.transportErrors > MAX_TRANSPORT_ERRORS) {
      throw new Error(`load aborted after ${this.transportErrors} transport errors: ${JSON.stringify(this.counts)}`);
    }
  }
}

interface CpuSnapshot {
  at: number;
  seconds: Record<string, number | undefined>;
  /** Per group, CPU seconds of each member pid. */
  groups: Record<string, Map<number, number>>;
}

function cpuSnapshot(pids: Record<string, number>, groups: Record<string, () => number[]>): CpuSnapshot {
  const usage = process.cpuUsage();
  const own = (usage.user + usage.system) / 1e6;
  const members = (list: () => number[]) =>
    new Map(list().flatMap((pid) => {
      const seconds = cpuSecondsOf(pid);
      return seconds === undefined ? [] : [[pid, seconds] as const];
    }));
  return {
    at: performance.now(),
    seconds: { "load generator": own, ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSecondsOf(pid)])) },
    groups: Object.fromEntries(Object.entries(groups).map(([name, list]) => [name, members(list)])),
  };
}

/** CPU over the window per name, as a fraction of one core. A group member born in the window counts whole. */
function cpuBetween(start: CpuSnapshot, end: CpuSnapshot): Record<string, number | undefined> {
  const cpu: Record<string, number | undefined> = {};
  const windowSeconds = Math.max(0.001, (end.at - start.at) / 1000);
  for (const [name, endSeconds] of Object.entries(end.seconds)) {
    const startSeconds = start.seconds[name];
    cpu[name] = endSeconds === undefined || startSeconds === undefined ? undefined : (endSeconds - startSeconds) / windowSeconds;
  }
  for (const [name, members] of Object.entries(end.groups)) {
    let used = 0;
    for (const [pid, seconds] of members) used += seconds - (start.groups[name]?.get(pid) ?? 0);
    cpu[name] = members.size === 0 ? undefined : used / windowSeconds;
  }
  return cpu;
}

let lastStamp = 0;

/** The bytes of every request a load sends, in turn; stamped ones are fresh copies. */
function requestSource(url: URL, load: TimedLoad): (index: number) => Buffer {
  const requests = load.bodies.map((body) => postRequestBytes(url, load.headers, body));
  const { stamp } = load;
  if (stamp === undefined) return (index) => requests[index % requests.length]!;
  const offsets = requests.map((request) => request.indexOf(stamp, 0, "latin1"));
  if (offsets.some((offset) => offset < 0)) throw new Error(`the stamp "${stamp}" is missing from a body`);
  return (index) => {
    const template = requests[index % requests.length]!;
    // A copy: the previous request's bytes may still be queued on another socket.
    const request = Buffer.from(template);
    request.write(String(++lastStamp).padStart(stamp.length, "0").slice(-stamp.length), offsets[index % requests.length]!, "latin1");
    return request;
  };
}

/** Closed-loop load for a warm-up plus a measured window, bounded by time and count. */
export async function runTimedLoad(load: TimedLoad): Promise<LoadResult> {
  const url = new URL(load.url);
  const nextRequest = requestSource(url, load);
  const problems = new Problems();
  const latencies: number[] = [];
  let failed = 0;
  let issued = 0;
  const watched = load.watchPids ?? {};
  const groups = load.watchGroups ?? {};
  const measureFrom = performance.now() + load.warmupMs;
  const measureTo = measureFrom + load.durationMs;
  let windowStart: CpuSnapshot | undefined;
  let windowEnd: CpuSnapshot | undefined;
  const startTimer = setTimeout(() => (windowStart = cpuSnapshot(watched, groups)), load.warmupMs);
  const endTimer = setTimeout(() => (windowEnd = cpuSnapshot(watched, groups)), load.warmupMs + load.durationMs);

  const connections: KeepAliveConnection[] = [];
  let stopped = false;
  const client = async () => {
    const connection = new KeepAliveConnection(url.hostname, Number(url.port), REQUEST_TIMEOUT_MS);
    connections.push(connection);
    while (!stopped && issued < load.maxRequests && performance.now() < measureTo) {
      const request = nextRequest(issued++);
      const startedAt = performance.now();
      let ok = false;
      try {
        const status = await connection.send(request);
        ok = status >= 200 && status < 300;
        if (!ok) problems.note(`HTTP ${status}`);
      } catch (err) {
        problems.noteError(err);
      }
      const doneAt = performance.now();
      if (doneAt < measureFrom || doneAt > measureTo) continue;
      if (ok) latencies.push(doneAt - startedAt);
      else failed += 1;
    }
  };

  try {
    await Promise.all(Array.from({ length: load.concurrency }, client));
  } finally {
    // When one client gave up, the others stop too.
    stopped = true;
    clearTimeout(startTimer);
    clearTimeout(endTimer);
    for (const connection of connections) connection.close();
  }
  // The count bound can end the run before the window closes.
  windowStart ??= cpuSnapshot(watched, groups);
  windowEnd ??= cpuSnapshot(watched, groups);
  const windowMs = Math.min(load.durationMs, Math.max(1, performance.now() - measureFrom));
  const cpu = cpuBetween(windowStart, windowEnd);
  latencies.sort((a, b) => a - b);
  return {
    ok: latencies.length,
    failed,
    problems: problems.counts,
    windowMs,
    requestsPerSecond: (latencies.length / windowMs) * 1000,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN },
    cpu,
  };
}

/** POSTs every body once, `concurrency` at a time, giving up after `timeoutMs`. */
export async function postEach(target: Target & { bodies: readonly Buffer[]; concurrency: number; timeoutMs: number }): Promise<EachResult> {
  const url = new URL(target.url);
  const problems = new Problems();
  const connections: KeepAliveConnection[] = [];
  const startedAt = performance.now();
  const deadline = startedAt + target.timeoutMs;
  let next = 0;
  let ok = 0;
  let failed = 0;
  let stopped = false;

  const client = async () => {
    const connection = new KeepAliveConnection(url.hostname, Number(url.port), REQUEST_TIMEOUT_MS);
    connections.push(connection);
    while (!stopped && next < target.bodies.length && performance.now() < deadline) {
      const request = postRequestBytes(url, target.headers, target.bodies[next++]!);
      try {
        const status = await connection.send(request);
        if (status >= 200 && status < 300) ok += 1;
        else {
          failed += 1;
          problems.note(`HTTP ${status}`);
        }
      } catch (err) {
        failed += 1;
        problems.noteError(err);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: target.concurrency }, client));
  } finally {
    stopped = true;
    for (const connection of connections) connection.close();
  }
  return { ok, failed, problems: problems.counts, elapsedMs: performance.now() - startedAt };
}
