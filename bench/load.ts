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
  concurrency: number;
  warmupMs: number;
  /** The measured window, after the warm-up. */
  durationMs: number;
  /** Hard bound on requests issued, warm-up included. */
  maxRequests: number;
  /** Processes whose CPU use over the measured window is reported, by name. */
  watchPids?: Record<string, number>;
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

function cpuSnapshot(pids: Record<string, number>) {
  const usage = process.cpuUsage();
  const own = (usage.user + usage.system) / 1e6;
  return {
    at: performance.now(),
    seconds: { "load generator": own, ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSecondsOf(pid)])) },
  };
}

/** Closed-loop load for a warm-up plus a measured window, bounded by time and count. */
export async function runTimedLoad(load: TimedLoad): Promise<LoadResult> {
  const url = new URL(load.url);
  const requests = load.bodies.map((body) => postRequestBytes(url, load.headers, body));
  const problems = new Problems();
  const latencies: number[] = [];
  let failed = 0;
  let issued = 0;
  const watched = load.watchPids ?? {};
  const measureFrom = performance.now() + load.warmupMs;
  const measureTo = measureFrom + load.durationMs;
  let windowStart: ReturnType<typeof cpuSnapshot> | undefined;
  let windowEnd: ReturnType<typeof cpuSnapshot> | undefined;
  const startTimer = setTimeout(() => (windowStart = cpuSnapshot(watched)), load.warmupMs);
  const endTimer = setTimeout(() => (windowEnd = cpuSnapshot(watched)), load.warmupMs + load.durationMs);

  const connections: KeepAliveConnection[] = [];
  let stopped = false;
  const client = async () => {
    const connection = new KeepAliveConnection(url.hostname, Number(url.port), REQUEST_TIMEOUT_MS);
    connections.push(connection);
    while (!stopped && issued < load.maxRequests && performance.now() < measureTo) {
      const request = requests[issued++ % requests.length]!;
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
  windowStart ??= cpuSnapshot(watched);
  windowEnd ??= cpuSnapshot(watched);
  const windowMs = Math.min(load.durationMs, Math.max(1, performance.now() - measureFrom));
  const cpu: Record<string, number | undefined> = {};
  const cpuWindowSeconds = Math.max(0.001, (windowEnd.at - windowStart.at) / 1000);
  for (const [name, end] of Object.entries(windowEnd.seconds)) {
    const start = windowStart.seconds[name as keyof typeof windowStart.seconds];
    cpu[name] = end === undefined || start === undefined ? undefined : (end - start) / cpuWindowSeconds;
  }
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
