// Turns results into aligned markdown tables: printed as they are (readable in a
// terminal) and written between markers in BENCHMARKS.md, so prose around them survives
// every run.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, platform, release, tmpdir } from "node:os";
import type { BacklogResult, BacklogRun } from "./backlog.js";
import type { IngestResult, ServerRounds, ServerRun } from "./ingest.js";
import type { LoadResult } from "./load.js";
import type { Driver } from "./storage.js";
import type { StormResult } from "./storm.js";

/** The product's aims for ingest: against the empty express app, and the relay's own p99. */
export const INGEST_AIMS = { ratioToExpress: 0.5, p99Ms: 20 };
/** The product's aims under a backlog of 100,000 queued rows. */
export const BACKLOG_AIMS = { loopBlockMs: 50, rssBytes: 150e6 };

const START_MARKER = "<!-- bench:results:start -->";
const END_MARKER = "<!-- bench:results:end -->";

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  node: string;
  os: string;
  tmpdir: string;
  /** The PostgreSQL server the run used, if any. */
  postgres?: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAtStart: number;
}

export function machine(): Machine {
  return {
    date: new Date().toISOString(),
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    node: process.version,
    os: `${platform()} ${release()}`,
    tmpdir: tmpdir(),
    loadAtStart: loadavg()[0]!,
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

const DRIVER_NAMES: Record<Driver, string> = { sqlite: "SQLite", postgres: "PostgreSQL" };

const verdict = (met: boolean | undefined) => (met === undefined ? "n/a" : met ? "met" : "MISSED");
const mb = (bytes: number | undefined) => (bytes === undefined ? "n/a" : `${(bytes / 1e6).toFixed(0)} MB`);
const maybeMs = (n: number | undefined) => (n === undefined ? "n/a" : ms(n));

export function ingestSection(result: IngestResult): string {
  const { settings } = result;
  const range = (rounds: ServerRun[]) => {
    const rates = rounds.map((r) => r.load.requestsPerSecond);
    return `${integer(Math.min(...rates))}–${integer(Math.max(...rates))}`;
  };
  const row = (name: string, { rounds, median }: ServerRounds) => {
    const { load, delivered } = median;
    return [
      name,
      integer(load.requestsPerSecond),
      range(rounds),
      ms(load.latencyMs.p50),
      ms(load.latencyMs.p99),
      ms(load.latencyMs.max),
      `${integer(load.failed)}${problems(load)}`,
      percent(load.cpu.server),
      load.cpu.database === undefined ? "-" : percent(load.cpu.database),
      percent(load.cpu["load generator"]),
      mb(median.rssBytes),
      delivered
        ? `${integer(delivered.messages)} (${delivered.coalescedRows === undefined ? "n/a" : integer(delivered.coalescedRows)} rows), ${integer(delivered.rateLimited)}`
        : "-",
    ];
  };
  const express = result.express.median.load;
  const bare = result.bare.median.load;
  const ratios = result.relays.map(({ driver, rounds }) => {
    const relay = rounds.median.load;
    const p99s = rounds.rounds.map((r) => r.load.latencyMs.p99);
    const toExpress = relay.requestsPerSecond / express.requestsPerSecond;
    return [
      DRIVER_NAMES[driver],
      `**${toExpress.toFixed(2)}** (${verdict(toExpress >= INGEST_AIMS.ratioToExpress)})`,
      (relay.requestsPerSecond / bare.requestsPerSecond).toFixed(3),
      `**${ms(relay.latencyMs.p99)}** (${verdict(relay.latencyMs.p99 <= INGEST_AIMS.p99Ms)})`,
      `${ms(Math.min(...p99s))}–${ms(Math.max(...p99s))}`,
    ];
  });
  return [
    `### Ingest: POST /webhook/alertmanager`,
    "",
    `${result.alertsPerPayload} alerts per payload (${integer(result.payloadBytes)} bytes, every request a new notification), ` +
      `${settings.concurrency} keep-alive clients (closed loop), ${seconds(settings.warmupMs)} warm-up then ${seconds(settings.durationMs)} measured; ` +
      `${settings.rounds} rounds, each server once per round in turn; each row is the median round (range: slowest–fastest round). ` +
      `Relay: robot target rate_limit { max: ${settings.robotRate.max}, per: ${settings.robotRate.per} }, the fake WeCom enforcing the same, ` +
      `delivery.coalesce_after: ${settings.coalesceAfter}. CPU is over the measured window, in % of one core.`,
    "",
    table(
      ["server", "req/s", "range", "p50 ms", "p99 ms", "max ms", "failed", "server CPU", "database CPU", "load-gen CPU", "RSS", "sent to WeCom (rows carried), 45009"],
      [
        row("bare node:http (JSON.parse)", result.bare),
        row("empty express (express.json)", result.express),
        ...result.relays.map(({ driver, rounds }) => row(`wecom-relay, ${DRIVER_NAMES[driver]}`, rounds)),
      ],
    ),
    "",
    table(
      ["relay outbox", `relay / express (aim ≥ ${INGEST_AIMS.ratioToExpress})`, "relay / bare", `p99 ms (aim ≤ ${INGEST_AIMS.p99Ms})`, "p99 range ms"],
      ratios,
    ),
  ].join("\n");
}

export function backlogSection(result: BacklogResult): string {
  const { settings, runs } = result;
  const column = (figure: (run: BacklogRun) => string) => runs.map(figure);
  const rows: string[][] = [
    ["filling the outbox (Store.accept, before the start)", ...column((r) => seconds(r.fillMs))],
    ["relay start until /-/ready answers 200", ...column((r) => seconds(r.startMs))],
    ["queued at window start → end (outbox_depth)", ...column((r) => `${r.queuedAtStart === undefined ? "n/a" : integer(r.queuedAtStart)} → ${r.queuedAtEnd === undefined ? "n/a" : integer(r.queuedAtEnd)}`)],
    [
      `**longest event-loop block, ms** (aim ≤ ${BACKLOG_AIMS.loopBlockMs})`,
      ...column((r) => `**${maybeMs(r.loopDelayMs.max)}** (${verdict(r.loopDelayMs.max === undefined ? undefined : r.loopDelayMs.max <= BACKLOG_AIMS.loopBlockMs)})`),
    ],
    ["event-loop delay p99, ms", ...column((r) => maybeMs(r.loopDelayMs.p99))],
    ["/-/ready probes answered 200 (failed)", ...column((r) => `${integer(r.ready.ok)} (${integer(r.ready.failed)})`)],
    ["/-/ready latency p50 / p99 / max, ms", ...column((r) => `${ms(r.ready.latencyMs.p50)} / ${ms(r.ready.latencyMs.p99)} / ${ms(r.ready.latencyMs.max)}`)],
    ["/metrics scrape at window start / end, ms", ...column((r) => `${ms(r.scrapeMs.start)} / ${ms(r.scrapeMs.end)}`)],
    [
      `**RSS at the end** (aim ≤ ${BACKLOG_AIMS.rssBytes / 1e6} MB)`,
      ...column((r) => `**${mb(r.rssBytes)}** (${verdict(r.rssBytes === undefined ? undefined : r.rssBytes <= BACKLOG_AIMS.rssBytes)})`),
    ],
    ["peak RSS (VmHWM)", ...column((r) => mb(r.peakRssBytes))],
    ["ingest req/s (failed)", ...column((r) => `${integer(r.ingest.requestsPerSecond)} (${integer(r.ingest.failed)}${problems(r.ingest)})`)],
    ["ingest p50 / p99 / max, ms", ...column((r) => `${ms(r.ingest.latencyMs.p50)} / ${ms(r.ingest.latencyMs.p99)} / ${ms(r.ingest.latencyMs.max)}`)],
    ["relay CPU / database CPU", ...column((r) => `${percent(r.ingest.cpu.server)} / ${r.ingest.cpu.database === undefined ? "-" : percent(r.ingest.cpu.database)}`)],
    ["digests sent in the window (rows carried)", ...column((r) => `${integer(r.digests)} (${integer(r.coalescedRows)})`)],
    ["45009 answers", ...column((r) => integer(r.rateLimited))],
  ];
  return [
    `### Backlog: ${integer(settings.queued)} queued for a ${settings.robotRate.max}/${settings.robotRate.per} robot`,
    "",
    `${integer(settings.queued)} rows written with the Store (${settings.messagesPerRequest} per request) before the relay starts; robot target ` +
      `rate_limit { max: ${settings.robotRate.max}, per: ${settings.robotRate.per} }, the fake WeCom enforcing the same, delivery.coalesce_after: ${settings.coalesceAfter}. ` +
      `Then ${settings.concurrency} clients post new webhooks (${seconds(settings.warmupMs)} warm-up) and for ${seconds(settings.windowMs)} /-/ready is probed ` +
      `every ${settings.probeEveryMs} ms; the window opens and closes with a /metrics scrape (prom-client resets its event-loop histogram on each).`,
    "",
    table(["figure", ...runs.map((r) => DRIVER_NAMES[r.driver])], rows),
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
    `${info.date} — nproc ${info.cpus} (${info.cpuModel}), Node ${info.node}, ${info.os}; SQLite outbox on ${info.tmpdir}${info.postgres ? `; ${info.postgres}` : ""}. ` +
      `1-minute load average ${info.loadAtStart.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end (other work on the machine skews every figure).`,
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
