// Turns results into aligned markdown tables: printed as they are (readable in a
// terminal) and written between markers in BENCHMARKS.md, so prose around them survives
// every run.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, platform, release, tmpdir } from "node:os";
import type { IngestResult } from "./ingest.js";
import type { LoadResult } from "./load.js";
import type { StormResult } from "./storm.js";

export const INGEST_TARGET_RATIO = 0.5;

const START_MARKER = "<!-- bench:results:start -->";
const END_MARKER = "<!-- bench:results:end -->";

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  node: string;
  os: string;
  tmpdir: string;
}

export function machine(): Machine {
  return {
    date: new Date().toISOString(),
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    node: process.version,
    os: `${platform()} ${release()}`,
    tmpdir: tmpdir(),
  };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

const integer = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : "-");
const percent = (fraction: number | undefined) => (fraction === undefined ? "n/a" : `${Math.round(fraction * 100)}%`);
const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(1)} s`;

function problems(load: LoadResult): string {
  const entries = Object.entries(load.problems);
  return entries.length === 0 ? "" : ` (${entries.map(([what, n]) => `${what}: ${n}`).join(", ")})`;
}

export function ingestSection(result: IngestResult): string {
  const { settings } = result;
  const range = (rounds: LoadResult[]) => {
    const rates = rounds.map((r) => r.requestsPerSecond);
    return `${integer(Math.min(...rates))}–${integer(Math.max(...rates))}`;
  };
  const row = (name: string, load: LoadResult, rounds: LoadResult[], otherCpu: string) => [
    name,
    integer(load.requestsPerSecond),
    range(rounds),
    ms(load.latencyMs.p50),
    ms(load.latencyMs.p99),
    ms(load.latencyMs.max),
    `${integer(load.failed)}${problems(load)}`,
    percent(load.cpu.server),
    percent(load.cpu["load generator"]),
    otherCpu,
  ];
  const verdict = result.ratio >= INGEST_TARGET_RATIO ? "met" : "MISSED";
  return [
    `### Ingest: POST /webhook/alertmanager`,
    "",
    `${result.alertsPerPayload} alerts per payload (${integer(result.payloadBytes)} bytes), ${settings.concurrency} keep-alive clients ` +
      `(closed loop), ${seconds(settings.warmupMs)} warm-up then ${seconds(settings.durationMs)} measured; ` +
      `${settings.rounds} alternating rounds per server, each row is the median round (range: slowest–fastest round). ` +
      `CPU is over the measured window, in % of one core.`,
    "",
    table(
      ["server", "req/s", "range", "p50 ms", "p99 ms", "max ms", "failed", "server CPU", "load-gen CPU", "fake WeCom CPU"],
      [
        row("bare node:http (JSON.parse)", result.bare, result.bareRounds, "-"),
        row("wecom-relay", result.relay, result.relayRounds, percent(result.relay.cpu["fake WeCom"])),
      ],
    ),
    "",
    `**relay / bare = ${result.ratio.toFixed(2)}** (target ≥ ${INGEST_TARGET_RATIO}: ${verdict}). ` +
      `The relay delivered ${integer(result.delivered)} messages to the fake WeCom meanwhile.`,
  ].join("\n");
}

export function stormSection(result: StormResult): string {
  const { settings } = result;
  const posted = `${seconds(result.posting.elapsedMs)} (${integer(result.posting.ok)} answered 2xx, ${integer(result.posting.failed)} failed)`;
  return [
    `### Storm: ${integer(settings.alerts)} alerts at a ${settings.ratePerSecond}/s robot`,
    "",
    `One alert per webhook, ${settings.concurrency} clients; robot target rate_limit { max: ${settings.ratePerSecond}, per: 1s }, ` +
      `the fake WeCom answering 45009 past ${settings.ratePerSecond} per sliding second; delivery.coalesce_after: ${settings.coalesceAfter}.`,
    "",
    table(
      ["figure", "value"],
      [
        [`posting ${integer(settings.alerts)} webhooks`, posted],
        ["every alert name received by WeCom", result.allSeenMs === undefined ? `NOT within ${seconds(settings.timeoutMs)}` : seconds(result.allSeenMs)],
        ["alert names missing", integer(result.missing)],
        ["WeCom messages sent", integer(result.messages)],
        ["most messages in any 1 s", `${integer(result.maxInAnySecond)} (limit ${settings.ratePerSecond})`],
        ["45009 answers", integer(result.rateLimited)],
        [`baseline: ${integer(settings.alerts)} separate messages at ${settings.ratePerSecond}/s`, seconds(result.baselineMs)],
        ["time / baseline", result.ratio === undefined ? "-" : result.ratio.toFixed(3)],
      ],
    ),
  ].join("\n");
}

export function resultsSection(info: Machine, sections: string[]): string {
  return [
    `## Results`,
    "",
    `${info.date} — nproc ${info.cpus} (${info.cpuModel}), Node ${info.node}, ${info.os}; outbox on ${info.tmpdir}.`,
    "",
    ...sections.flatMap((section) => [section, ""]),
  ].join("\n");
}

/** Replaces the results between the markers, keeping everything else in the file. */
export function writeResults(file: string, results: string): void {
  const block = `${START_MARKER}\n${results.trimEnd()}\n${END_MARKER}`;
  const current = existsSync(file) ? readFileSync(file, "utf8") : "";
  const start = current.indexOf(START_MARKER);
  const end = current.indexOf(END_MARKER);
  const next =
    start >= 0 && end > start
      ? current.slice(0, start) + block + current.slice(end + END_MARKER.length)
      : `${current.trimEnd() || "# Benchmarks\n\nRun `npm run bench`."}\n\n${block}\n`;
  writeFileSync(file, next);
}
