// Starts a real, throwaway PostgreSQL server for tests: initdb into a fresh temp dir,
// pg_ctl start on a free loopback port, trust auth, no fsync. CI installs PostgreSQL and
// sets WECOM_RELAY_REQUIRE_E2E=1, so there missing binaries fail the run instead of
// skipping.
//
// As root (the usual container), initdb and pg_ctl refuse to run, so they run as the
// `postgres` OS user through runuser (util-linux) or su, and the temp dir is handed to it.
// A server still running when the process exits is stopped (immediate mode) by an
// 'exit' handler; a detached watchdog does the same if the process dies without running
// it (SIGKILL, SIGTERM from the test runner).
import { afterAll, beforeAll } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export interface PostgresServer {
  /** postgres://USER@127.0.0.1:PORT/DB connection URL for node-postgres (no password; trust auth on loopback). */
  url: string;
  port: number;
  /** The temp dir holding data/, sock/ and postgres.log; gone after destroy(). */
  dir: string;
  /** Creates a fresh database and returns its URL (so each test file/suite can be isolated). */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server (fast mode) — for "database down" tests; start() brings it back on the same port and data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes the data dir. Idempotent. */
  destroy(): Promise<void>;
}

export interface PostgresBinaries {
  initdb: string;
  pgCtl: string;
  psql?: string;
}

/** True when tests needing PostgreSQL must fail instead of skip (CI sets WECOM_RELAY_REQUIRE_E2E=1). */
export const requirePostgres: boolean = process.env.WECOM_RELAY_REQUIRE_E2E === "1";

const SUPERUSER = "postgres";
const START_TIMEOUT_S = 30;
const STOP_TIMEOUT_S = 30;
const PSQL_TIMEOUT_MS = 15_000;
const BIND_ATTEMPTS = 5;
const LIB_DIR = "/usr/lib/postgresql";

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** "15" > "9.6" > "9.5": compares dotted version numbers numerically. */
function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function fromDir(dir: string): PostgresBinaries | undefined {
  const initdb = join(dir, "initdb");
  const pgCtl = join(dir, "pg_ctl");
  if (!executable(initdb) || !executable(pgCtl)) return undefined;
  const psql = executable(join(dir, "psql")) ? join(dir, "psql") : onPath("psql");
  return psql ? { initdb, pgCtl, psql } : { initdb, pgCtl };
}

/**
 * The highest PostgreSQL under /usr/lib/postgresql/<version>/bin, else initdb and pg_ctl
 * on PATH. Undefined when there are none; postgresUnavailable() says why.
 */
export function postgresBinaries(): PostgresBinaries | undefined {
  let versions: string[] = [];
  try {
    versions = readdirSync(LIB_DIR).filter((v) => /^\d+(\.\d+)*$/.test(v));
  } catch {
    // No Debian layout: fall through to PATH.
  }
  for (const version of versions.sort(compareVersions).reverse()) {
    const found = fromDir(join(LIB_DIR, version, "bin"));
    if (found) return found;
  }
  const initdb = onPath("initdb");
  const pgCtl = onPath("pg_ctl");
  if (!initdb || !pgCtl) return undefined;
  const psql = onPath("psql");
  return psql ? { initdb, pgCtl, psql } : { initdb, pgCtl };
}

const isRoot = process.getuid?.() === 0;

function runuserPath(): string | undefined {
  return ["/usr/sbin/runuser", "/sbin/runuser"].find(executable) ?? onPath("runuser");
}

function suPath(): string | undefined {
  return ["/usr/bin/su", "/bin/su"].find(executable) ?? onPath("su");
}

function postgresUserExists(): boolean {
  return spawnSync("id", ["-u", SUPERUSER], { stdio: "ignore" }).status === 0;
}

/**
 * Why startPostgres() cannot work here, or undefined when it can: no binaries, or running
 * as root without a `postgres` OS user or a way (runuser, su) to become it.
 */
export function postgresUnavailable(): string | undefined {
  if (!postgresBinaries()) {
    return `no PostgreSQL binaries: no initdb and pg_ctl in ${LIB_DIR}/<version>/bin or on PATH (apt-get install postgresql)`;
  }
  if (isRoot && !postgresUserExists()) return `running as root and there is no "${SUPERUSER}" OS user to run initdb/pg_ctl as`;
  if (isRoot && !runuserPath() && !suPath()) return `running as root and neither runuser nor su is available to become "${SUPERUSER}"`;
  return undefined;
}

/** argv that runs `command args` as the postgres OS user when we are root, directly otherwise. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  if (!isRoot) return [command, args];
  const runuser = runuserPath();
  if (runuser) return [runuser, ["-u", SUPERUSER, "--", command, ...args]];
  const su = suPath();
  if (su) return [su, ["-s", "/bin/sh", "-c", 'exec "$0" "$@"', SUPERUSER, command, ...args]];
  throw new Error(`running as root: need runuser or su to run ${command} as "${SUPERUSER}"`);
}

/** The environment for every child: no PG* settings of the caller, C messages. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("PG")) env[key] = value;
  }
  env.LC_ALL = "C";
  env.LANG = "C";
  env.PGCONNECT_TIMEOUT = "5";
  return env;
}

interface RunResult {
  code: number | null;
  output: string;
  timedOut: boolean;
}

/** Runs a command to completion, killing it after timeoutMs. Never rejects for a non-zero exit. */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let timedOut = false;
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}

function describeFailure(what: string, result: RunResult, timeoutMs: number): string {
  const how = result.timedOut ? `did not finish within ${timeoutMs} ms` : `exited with ${result.code}`;
  return `${what} ${how}${result.output.trim() ? `:\n${result.output.trim()}` : ""}`;
}

/** The last lines of the server log written since `offset`. */
function logTail(logFile: string, offset = 0, lines = 40): string {
  try {
    const size = statSync(logFile).size;
    const start = Math.max(offset, size - 64 * 1024);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    const fd = openSync(logFile, "r");
    try {
      readSync(fd, buffer, 0, buffer.length, start);
    } finally {
      closeSync(fd);
    }
    const text = buffer.toString().trimEnd();
    return text ? text.split("\n").slice(-lines).join("\n") : "(server log is empty)";
  } catch (error) {
    return `(no server log: ${(error as Error).message})`;
  }
}

function logSize(logFile: string): number {
  try {
    return statSync(logFile).size;
  } catch {
    return 0;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// Servers still running in this process, shared by every copy of this module (the test
// runner may load it more than once per process), so one 'exit' handler stops them all.
interface Live {
  pgCtl: string;
  dataDir: string;
  dir: string;
  watchdog?: number | undefined;
}
const REGISTRY = Symbol.for("wecom-relay.test.postgres.live");
type Registry = { live: Set<Live> };
function registry(): Registry {
  const global = globalThis as typeof globalThis & { [REGISTRY]?: Registry };
  if (!global[REGISTRY]) {
    const created: Registry = { live: new Set() };
    global[REGISTRY] = created;
    process.on("exit", () => {
      for (const server of created.live) stopImmediatelySync(server);
      created.live.clear();
    });
  }
  return global[REGISTRY];
}

function stopImmediatelySync(server: Live): void {
  const [command, args] = asServerUser(server.pgCtl, ["stop", "-D", server.dataDir, "-m", "immediate", "-w", "-t", "10"]);
  spawnSync(command, args, { cwd: server.dir, env: childEnv(), stdio: "ignore", timeout: 15_000 });
  if (server.watchdog) killQuietly(server.watchdog);
  rmSync(server.dir, { recursive: true, force: true });
}

/** Kills the watchdog we started, and its `sleep`: it leads its own process group. */
function killQuietly(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * A detached shell that outlives this process: once our pid is gone it stops the server
 * (immediate mode) and removes the temp dir. Covers deaths that skip 'exit' handlers.
 */
function startWatchdog(server: Live): number | undefined {
  const [command, args] = asServerUser(server.pgCtl, ["stop", "-D", server.dataDir, "-m", "immediate", "-w", "-t", "10"]);
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    `${[command, ...args].map(shellQuote).join(" ")} >/dev/null 2>&1`,
    `rm -rf ${shellQuote(server.dir)}`,
  ].join("; ");
  const child = spawn("/bin/sh", ["-c", script], { cwd: "/", env: childEnv(), detached: true, stdio: "ignore" });
  child.on("error", () => {});
  child.unref();
  return child.pid;
}

function validDatabaseName(name: string): boolean {
  return /^[a-z_][a-z0-9_]{0,62}$/.test(name);
}

export async function startPostgres(): Promise<PostgresServer> {
  const unavailable = postgresUnavailable();
  if (unavailable) throw new Error(`cannot start PostgreSQL: ${unavailable}`);
  const bins = postgresBinaries()!;

  const dir = mkdtempSync(join(tmpdir(), "wecom-relay-pg-"));
  const dataDir = join(dir, "data");
  const socketDir = join(dir, "sock");
  const logFile = join(dir, "postgres.log");
  mkdirSync(socketDir);
  const live: Live = { pgCtl: bins.pgCtl, dataDir, dir };
  const cleanupOnFailure = (): void => {
    registry().live.delete(live);
    stopImmediatelySync(live);
  };

  try {
    if (isRoot) {
      const chown = await run("chown", ["-R", `${SUPERUSER}:${SUPERUSER}`, dir], dir, 10_000);
      if (chown.code !== 0) throw new Error(describeFailure(`chown ${dir}`, chown, 10_000));
    }
    const initdbArgs = ["-D", dataDir, "-A", "trust", "-U", SUPERUSER, "--no-sync", "-E", "UTF8", "--locale=C"];
    const initdb = await run(...asServerUser(bins.initdb, initdbArgs), dir, 60_000);
    if (initdb.code !== 0) throw new Error(describeFailure("initdb", initdb, 60_000));
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  // From here on a server may be running: the exit handler and watchdog know about it.
  registry().live.add(live);
  live.watchdog = startWatchdog(live);

  let port = 0;
  let running = false;
  let destroyed = false;

  const pgCtlStart = async (): Promise<{ ok: true } | { ok: false; bindFailure: boolean; message: string }> => {
    const offset = logSize(logFile);
    const options = [
      `-p ${port}`,
      `-k ${shellQuote(socketDir)}`,
      "-c listen_addresses=127.0.0.1",
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
      "-c max_connections=100",
    ].join(" ");
    const args = ["start", "-D", dataDir, "-w", "-t", String(START_TIMEOUT_S), "-l", logFile, "-o", options];
    const timeoutMs = (START_TIMEOUT_S + 5) * 1000;
    const result = await run(...asServerUser(bins.pgCtl, args), dir, timeoutMs);
    if (result.code === 0) return { ok: true };
    const tail = logTail(logFile, offset);
    return {
      ok: false,
      bindFailure: /could not bind|address already in use|could not create any TCP\/IP sockets/i.test(tail),
      message: `${describeFailure(`pg_ctl start (port ${port})`, result, timeoutMs)}\n--- server log (tail) ---\n${tail}`,
    };
  };

  const pgCtlStop = async (mode: "fast" | "immediate"): Promise<void> => {
    const args = ["stop", "-D", dataDir, "-m", mode, "-w", "-t", String(STOP_TIMEOUT_S)];
    const timeoutMs = (STOP_TIMEOUT_S + 5) * 1000;
    const result = await run(...asServerUser(bins.pgCtl, args), dir, timeoutMs);
    // pg_ctl exits 1 with "PID file ... does not exist" when no server runs: already stopped.
    if (result.code !== 0 && !/does not exist|Is server running\?/i.test(result.output)) {
      throw new Error(`${describeFailure(`pg_ctl stop -m ${mode}`, result, timeoutMs)}\n--- server log (tail) ---\n${logTail(logFile)}`);
    }
  };

  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const started = await pgCtlStart();
      if (started.ok) break;
      // Another process took the port between freePort() and postgres binding it: try another.
      if (!started.bindFailure || attempt >= BIND_ATTEMPTS) throw new Error(started.message);
    }
    running = true;
  } catch (error) {
    cleanupOnFailure();
    throw error;
  }

  const urlFor = (database: string): string => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`;

  return {
    url: urlFor("postgres"),
    port,
    dir,

    async createDatabase(name = `t_${randomBytes(6).toString("hex")}`): Promise<string> {
      if (destroyed) throw new Error("createDatabase: the PostgreSQL server was destroyed");
      if (!validDatabaseName(name)) throw new Error(`createDatabase: "${name}" is not a plain lower-case identifier`);
      if (!bins.psql) throw new Error("createDatabase needs psql (apt-get install postgresql-client)");
      const args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", SUPERUSER, "-d", "postgres"];
      const result = await run(bins.psql, [...args, "-c", `CREATE DATABASE "${name}"`], dir, PSQL_TIMEOUT_MS);
      if (result.code !== 0) throw new Error(describeFailure(`CREATE DATABASE ${name}`, result, PSQL_TIMEOUT_MS));
      return urlFor(name);
    },

    async stop(): Promise<void> {
      if (destroyed) throw new Error("stop: the PostgreSQL server was destroyed");
      if (!running) return;
      await pgCtlStop("fast");
      running = false;
    },

    async start(): Promise<void> {
      if (destroyed) throw new Error("start: the PostgreSQL server was destroyed");
      if (running) return;
      const started = await pgCtlStart();
      if (!started.ok) {
        // Leave nothing half-started behind.
        await pgCtlStop("immediate").catch(() => {});
        throw new Error(started.message);
      }
      running = true;
    },

    async destroy(): Promise<void> {
      if (destroyed) return;
      destroyed = true;
      try {
        // The data is thrown away: immediate mode skips the shutdown checkpoint.
        await pgCtlStop("immediate");
      } finally {
        running = false;
        registry().live.delete(live);
        if (live.watchdog) killQuietly(live.watchdog);
        if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * One throwaway server for the calling test file: started before its tests, destroyed
 * after them. Where PostgreSQL is missing the getter answers undefined, unless CI requires
 * it, where the file fails.
 */
export function postgresForThisFile(): () => PostgresServer | undefined {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    const missing = postgresUnavailable();
    if (missing !== undefined) {
      if (requirePostgres) throw new Error(`PostgreSQL is required in CI: ${missing}`);
      return;
    }
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.destroy();
  });
  return () => server;
}
