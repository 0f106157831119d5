// Child processes for the benchmarks: every server runs in its own Node process so the
// load generator in the parent never shares an event loop with what it measures. Every
// child is tracked and killed at the end, on error and on interrupt.
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Enough of a child's output to explain why it failed. */
const OUTPUT_TAIL_CHARS = 8192;

export class ManagedChild {
  readonly exited: Promise<string>;
  private outputTail = "";

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.outputTail = (this.outputTail + chunk.toString("utf8")).slice(-OUTPUT_TAIL_CHARS);
    };
    // Always drained, so a chatty child can never block on a full pipe.
    process.stdout?.on("data", keep);
    process.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      process.once("exit", (code, signal) => resolve(signal ?? `exit code ${code}`));
    });
  }

  get pid(): number {
    if (this.process.pid === undefined) throw new Error(`${this.name} has no pid (it failed to start)`);
    return this.process.pid;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The last few kilobytes the child wrote to stdout and stderr. */
  output(): string {
    return this.outputTail;
  }

  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.process.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)));
    const outcome = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout" && this.running) {
      this.process.kill("SIGKILL");
      await this.exited;
    }
  }
}

/** Every child started for a run; `stopAll` and `killAllNow` end them. */
export class ChildSet {
  private readonly children = new Set<ManagedChild>();

  /**
   * Starts `node [nodeArgs] script args` with piped output, and an IPC channel unless
   * `ipc` is false (a program that does not expect one would be kept alive by it).
   */
  start(
    name: string,
    script: URL,
    args: string[],
    options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; ipc?: boolean } = {},
  ): ManagedChild {
    const nodeArgs = options.nodeArgs ?? [];
    const env = options.env ?? process.env;
    const child =
      options.ipc === false
        ? spawn(process.execPath, [...nodeArgs, fileURLToPath(script), ...args], { env, stdio: ["ignore", "pipe", "pipe"] })
        : fork(script, args, { execArgv: nodeArgs, env, stdio: ["ignore", "pipe", "pipe", "ipc"] });
    const managed = new ManagedChild(name, child);
    this.children.add(managed);
    void managed.exited.then(() => this.children.delete(managed));
    return managed;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((child) => child.stop()));
  }

  /** Synchronous last resort for process exit: no waiting is possible there. */
  killAllNow(): void {
    for (const child of this.children) if (child.running) child.process.kill("SIGKILL");
  }
}

/** Resolves with the first IPC message from `child` that `accept` returns a value for. */
export function waitForMessage<T>(child: ManagedChild, accept: (message: unknown) => T | undefined, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.process.off("message", onMessage);
      child.process.off("exit", onExit);
    };
    const onMessage = (message: unknown) => {
      const value = accept(message);
      if (value === undefined) return;
      cleanup();
      resolve(value);
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`${child.name} exited before it was ready:\n${child.output()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${child.name} sent no answer within ${timeoutMs} ms:\n${child.output()}`));
    }, timeoutMs);
    child.process.on("message", onMessage);
    child.process.once("exit", onExit);
  });
}

let nextCallId = 1;

/** Sends `{ id, ...request }` and resolves with the child's message carrying the same id. */
export function ipcCall<T extends object>(child: ManagedChild, request: object, timeoutMs = 10_000): Promise<T> {
  const id = nextCallId++;
  const answered = waitForMessage(
    child,
    (message) => (typeof message === "object" && message !== null && (message as { id?: unknown }).id === id ? (message as T) : undefined),
    timeoutMs,
  );
  child.process.send({ id, ...request });
  return answered;
}

/** A TCP port free on 127.0.0.1 right now (for a child that needs it on its command line). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200; fails early if `child` exits meanwhile. */
export async function waitForHttpOk(child: ManagedChild, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!child.running) throw new Error(`${child.name} exited before it was ready:\n${child.output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${child.name} was not ready at ${url} within ${timeoutMs} ms:\n${child.output()}`);
}

let clockTicksPerSecond: number | undefined;

function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined off Linux. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; fields after its closing ")" are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime + stime) ? (utime + stime) / ticksPerSecond() : undefined;
  } catch {
    return undefined;
  }
}

/** `rootPid` and every process descended from it, from /proc (empty off Linux). */
export function processTree(rootPid: number): number[] {
  const parents = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  for (const name of entries) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(parent, [...(parents.get(parent) ?? []), Number(name)]);
    } catch {
      // It exited meanwhile.
    }
  }
  const tree: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(parents.get(pid) ?? []));
  }
  return tree;
}

/** Resident set size now and at its peak (VmRSS, VmHWM), in bytes; undefined off Linux. */
export function memoryOf(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
    const rss = kib("VmRSS");
    const peak = kib("VmHWM");
    return Number.isFinite(rss) && Number.isFinite(peak) ? { rss, peak } : undefined;
  } catch {
    return undefined;
  }
}
