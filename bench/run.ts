// Runs the benchmarks and reports them: `npm run bench` (builds first).
//
//   node dist/bench/run.js [--only ingest|storm] [--rounds N] [--no-write] [--profile DIR]
//
// --profile DIR writes a V8 CPU profile of the relay during the ingest run into DIR
// (open it in Chrome DevTools or speedscope). A full run replaces the generated section
// of BENCHMARKS.md unless --no-write; a partial (--only) run never writes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_INGEST, runIngest } from "./ingest.js";
import { ChildSet } from "./processes.js";
import { ingestSection, machine, resultsSection, stormSection, writeResults } from "./report.js";
import { DEFAULT_STORM, runStorm } from "./storm.js";

/** The whole run takes well under this; past it something hangs, and we stop. */
const WATCHDOG_MS = 240_000;

const BENCHMARKS_FILE = fileURLToPath(new URL("../../BENCHMARKS.md", import.meta.url));

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    "no-write": { type: "boolean", default: false },
    profile: { type: "string" },
    rounds: { type: "string" },
  },
  strict: true,
});
if (values.only !== undefined && values.only !== "ingest" && values.only !== "storm") {
  console.error(`--only must be ingest or storm, got "${values.only}"`);
  process.exit(2);
}

const rounds = values.rounds === undefined ? DEFAULT_INGEST.rounds : Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) {
  console.error(`--rounds must be a whole number from 1 to 10, got "${values.rounds}"`);
  process.exit(2);
}

const children = new ChildSet();
const workDir = mkdtempSync(join(tmpdir(), "wecom-relay-bench-"));
const cleanUpNow = () => {
  children.killAllNow();
  rmSync(workDir, { recursive: true, force: true });
};
process.once("exit", cleanUpNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the servers`);
    void children.stopAll().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  console.error(`benchmarks still running after ${WATCHDOG_MS / 1000} s; giving up`);
  process.exit(1);
}, WATCHDOG_MS);

async function main(): Promise<void> {
  const info = machine();
  console.log(`wecom-relay benchmarks: ${info.cpus} CPUs, Node ${info.node}\n`);
  const sections: string[] = [];

  if (values.only !== "storm") {
    const runSeconds = (DEFAULT_INGEST.warmupMs + DEFAULT_INGEST.durationMs) / 1000;
    console.log(`ingest: bare server and relay, ${rounds} alternating rounds of ${runSeconds} s each...`);
    const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
    const ingest = await runIngest(children, workDir, {
      ...DEFAULT_INGEST,
      rounds,
      ...(profileDir !== undefined && { relayNodeArgs: ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] }),
    });
    sections.push(ingestSection(ingest));
    console.log(`\n${sections.at(-1)}\n`);
    if (profileDir !== undefined) console.log(`relay CPU profile written to ${profileDir}\n`);
  }

  if (values.only !== "ingest") {
    console.log(`storm: ${DEFAULT_STORM.alerts} alerts at ${DEFAULT_STORM.ratePerSecond}/s...`);
    const storm = await runStorm(children, workDir, DEFAULT_STORM);
    sections.push(stormSection(storm));
    console.log(`\n${sections.at(-1)}\n`);
  }

  if (!values["no-write"] && values.only === undefined) {
    writeResults(BENCHMARKS_FILE, resultsSection(info, sections));
    console.log(`results written to ${BENCHMARKS_FILE}`);
  }
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await children.stopAll();
  clearTimeout(watchdog);
}
