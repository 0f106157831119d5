// Runs the benchmarks and reports them: `npm run bench` (builds first).
//
//   node dist/bench/run.js [--only ingest|backlog|storm] [--drivers sqlite,postgres] [--rounds N]
//                          [--no-write] [--profile DIR]
//
// --profile DIR writes a V8 CPU profile of every relay process of the ingest and backlog
// runs into DIR (open it in Chrome DevTools or speedscope). A full run replaces the
// generated section of BENCHMARKS.md unless --no-write; a partial run (--only, --drivers)
// never writes.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { postgresBinaries, postgresUnavailable, startPostgres, type PostgresServer } from "../test/support/postgres.js";
import { DEFAULT_BACKLOG, runBacklog } from "./backlog.js";
import { DEFAULT_INGEST, runIngest } from "./ingest.js";
import { ChildSet } from "./processes.js";
import { backlogSection, ingestSection, machine, resultsSection, stormSection, writeResults } from "./report.js";
import { DRIVERS, storages, type Driver } from "./storage.js";
import { DEFAULT_STORM, runStorm } from "./storm.js";

/** The whole run takes about three minutes on 2 cores (less on a quiet machine); past this something hangs, and we stop. */
const WATCHDOG_MS = 300_000;

const BENCHMARKS_FILE = fileURLToPath(new URL("../../BENCHMARKS.md", import.meta.url));
const BENCHMARKS = ["ingest", "backlog", "storm"] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    drivers: { type: "string" },
    "no-write": { type: "boolean", default: false },
    profile: { type: "string" },
    rounds: { type: "string" },
  },
  strict: true,
});
if (values.only !== undefined && !(BENCHMARKS as readonly string[]).includes(values.only)) {
  console.error(`--only must be one of ${BENCHMARKS.join(", ")}, got "${values.only}"`);
  process.exit(2);
}
const only = values.only as Benchmark | undefined;
const selected = (benchmark: Benchmark) => only === undefined || only === benchmark;

const wantedDrivers = (values.drivers ?? DRIVERS.join(",")).split(",").map((d) => d.trim());
if (wantedDrivers.length === 0 || wantedDrivers.some((d) => !(DRIVERS as readonly string[]).includes(d))) {
  console.error(`--drivers must list ${DRIVERS.join(" and/or ")}, comma-separated; got "${values.drivers}"`);
  process.exit(2);
}

const rounds = values.rounds === undefined ? DEFAULT_INGEST.rounds : Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) {
  console.error(`--rounds must be a whole number from 1 to 10, got "${values.rounds}"`);
  process.exit(2);
}

const children = new ChildSet();
const workDir = mkdtempSync(join(tmpdir(), "wecom-relay-bench-"));
let postgres: PostgresServer | undefined;
const cleanUpNow = () => {
  // The PostgreSQL test support stops a server still running on exit by itself.
  children.killAllNow();
  rmSync(workDir, { recursive: true, force: true });
};
process.once("exit", cleanUpNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the servers`);
    void children
      .stopAll()
      .then(() => postgres?.destroy())
      .finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  console.error(`benchmarks still running after ${WATCHDOG_MS / 1000} s; giving up`);
  process.exit(1);
}, WATCHDOG_MS);

function postgresVersion(): string {
  const pgCtl = postgresBinaries()?.pgCtl;
  try {
    return pgCtl ? execFileSync(pgCtl, ["--version"], { encoding: "utf8" }).replace(/^pg_ctl \(PostgreSQL\)\s*/, "PostgreSQL ").trim() : "PostgreSQL";
  } catch {
    return "PostgreSQL";
  }
}

async function main(): Promise<void> {
  const info = machine();
  console.log(`wecom-relay benchmarks: ${info.cpus} CPUs, Node ${info.node}\n`);
  const sections: string[] = [];
  const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
  const relayNodeArgs = profileDir === undefined ? undefined : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`];

  let drivers = wantedDrivers as Driver[];
  let partial = values.drivers !== undefined;
  if (drivers.includes("postgres") && (selected("ingest") || selected("backlog"))) {
    const unavailable = postgresUnavailable();
    if (unavailable) {
      console.error(`PostgreSQL skipped: ${unavailable}\n`);
      drivers = drivers.filter((driver) => driver !== "postgres");
      partial = true;
    } else {
      console.log("starting a throwaway PostgreSQL server...");
      postgres = await startPostgres();
      info.postgres = `${postgresVersion()} on 127.0.0.1 (throwaway server: fsync=off, synchronous_commit=off), a new database per relay run`;
      console.log(`${info.postgres}\n`);
    }
  }
  const outboxes = storages(drivers, postgres);

  if (selected("ingest") && drivers.length > 0) {
    const runSeconds = (DEFAULT_INGEST.warmupMs + DEFAULT_INGEST.durationMs) / 1000;
    console.log(`ingest: bare, express and the relay on ${drivers.join(", ")}; ${rounds} rounds of ${runSeconds} s per server...`);
    const ingest = await runIngest(children, workDir, outboxes, { ...DEFAULT_INGEST, rounds, ...(relayNodeArgs && { relayNodeArgs }) });
    sections.push(ingestSection(ingest));
    console.log(`\n${sections.at(-1)}\n`);
  }

  if (selected("backlog") && drivers.length > 0) {
    console.log(`backlog: ${DEFAULT_BACKLOG.queued} queued rows, relay on ${drivers.join(", ")}...`);
    const backlog = await runBacklog(children, workDir, outboxes, { ...DEFAULT_BACKLOG, ...(relayNodeArgs && { relayNodeArgs }) });
    sections.push(backlogSection(backlog));
    console.log(`\n${sections.at(-1)}\n`);
  }
  if (profileDir !== undefined) console.log(`relay CPU profiles written to ${profileDir}\n`);

  if (selected("storm")) {
    console.log(`storm: ${DEFAULT_STORM.alerts} alerts at ${DEFAULT_STORM.ratePerSecond}/s (SQLite)...`);
    const storm = await runStorm(children, workDir, DEFAULT_STORM);
    sections.push(stormSection(storm));
    console.log(`\n${sections.at(-1)}\n`);
  }

  if (!values["no-write"] && only === undefined && !partial) {
    writeResults(BENCHMARKS_FILE, resultsSection(info, sections));
    console.log(`results written to ${BENCHMARKS_FILE}`);
  }
}

const startedAt = performance.now();
try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await children.stopAll();
  await postgres?.destroy().catch((err: unknown) => console.error("could not stop PostgreSQL:", err));
  clearTimeout(watchdog);
  console.log(`done in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}
