// Ingest: how fast the relay accepts Alertmanager webhooks (each committed to its outbox,
// SQLite or PostgreSQL, before the 200) compared with two baselines under the same
// closed-loop load: a bare node:http server that only parses the JSON, and an empty
// express app (express.json and one route). Meanwhile the relay delivers to a fake WeCom
// that enforces the robot's real limit of 20 messages a minute, so it coalesces its
// backlog into digests throughout, as it would in production during a burst.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { alertmanagerPayload } from "../test/support/payloads.js";
import { startFakeWeComProcess } from "./fake-wecom-process.js";
import { runTimedLoad, type LoadResult, type TimedLoad } from "./load.js";
import { metric, scrapeMetrics } from "./metrics.js";
import { memoryOf, type ChildSet } from "./processes.js";
import { benchRelayConfig } from "./relay-config.js";
import { startBaselineServer, startRelayServer, type Baseline } from "./servers.js";
import type { Driver, Storages } from "./storage.js";

export interface RobotRate {
  max: number;
  /** As written in the relay's config, e.g. "1m". */
  per: string;
  perMs: number;
}

export interface IngestSettings {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  maxRequests: number;
  /** Every server runs once per round, in turn; the median round of each is reported. */
  rounds: number;
  /** The robot's limit: configured on the relay's target and enforced by the fake WeCom. */
  robotRate: RobotRate;
  coalesceAfter: string;
  /** Extra node flags for the relay process (profiling). */
  relayNodeArgs?: string[];
}

/** What the relay delivered during one round (from the fake WeCom and the relay's /metrics). */
export interface Delivered {
  /** Messages the fake WeCom accepted. */
  messages: number;
  /** 45009 answers (the relay went over the robot's limit). */
  rateLimited: number;
  /** Queued messages carried by digests (wecom_relay_coalesced_total). */
  coalescedRows: number | undefined;
}

export interface ServerRun {
  load: LoadResult;
  /** The server's resident set size at the end of the round. */
  rssBytes: number | undefined;
  delivered?: Delivered;
}

export interface ServerRounds {
  /** Every round, in order. */
  rounds: ServerRun[];
  /** The round with the median rate. */
  median: ServerRun;
}

export interface IngestResult {
  settings: IngestSettings;
  alertsPerPayload: number;
  payloadBytes: number;
  bare: ServerRounds;
  express: ServerRounds;
  relays: { driver: Driver; rounds: ServerRounds }[];
}

/** WeCom's own robot limit. */
export const ROBOT_RATE: RobotRate = { max: 20, per: "1m", perMs: 60_000 };

export const DEFAULT_INGEST: IngestSettings = {
  concurrency: 32,
  warmupMs: 1000,
  durationMs: 5000,
  maxRequests: 500_000,
  rounds: 3,
  robotRate: ROBOT_RATE,
  coalesceAfter: "30s",
};

const ALERTS_PER_PAYLOAD = 3;
const DISTINCT_PAYLOADS = 32;
export const BEARER_TOKEN = "bench-alertmanager-token";
export const WEBHOOK_PATH = "/webhook/alertmanager";
/** Replaced in every request by a unique number (see TimedLoad.stamp). */
export const STAMP = "000000000000";

/**
 * Realistic Alertmanager bodies: three alerts of one group; every fourth is critical (the
 * text route). The group key carries the stamp, so every request is a new notification.
 */
export function ingestBodies(): Buffer[] {
  return Array.from({ length: DISTINCT_PAYLOADS }, (_, i) => {
    const severity = i % 4 === 0 ? "critical" : "warning";
    const alerts = Array.from({ length: ALERTS_PER_PAYLOAD }, (_, j) => ({
      name: `HighRequestLatency${i}`,
      severity,
      labels: { instance: `10.0.${i}.${j + 1}:8080`, service: "checkout", cluster: "prod-sh-1" },
      summary: `p99 latency above 2s on 10.0.${i}.${j + 1} for 5 minutes`,
    }));
    const payload = alertmanagerPayload(alerts);
    return Buffer.from(JSON.stringify({ ...payload, groupKey: `${payload.groupKey}#${STAMP}` }));
  });
}

/** The element with the median value (the lower middle for an even count). */
export function median<T>(items: readonly T[], value: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => value(a) - value(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function summarise(rounds: ServerRun[]): ServerRounds {
  return { rounds, median: median(rounds, (r) => r.load.requestsPerSecond) };
}

export async function runIngest(children: ChildSet, workDir: string, storages: Storages, settings: IngestSettings): Promise<IngestResult> {
  const bodies = ingestBodies();
  const load: Omit<TimedLoad, "url"> = {
    headers: { authorization: `Bearer ${BEARER_TOKEN}` },
    bodies,
    stamp: STAMP,
    concurrency: settings.concurrency,
    warmupMs: settings.warmupMs,
    durationMs: settings.durationMs,
    maxRequests: settings.maxRequests,
  };

  const runBaseline = async (baseline: Baseline): Promise<ServerRun> => {
    const server = await startBaselineServer(children, baseline);
    const result = await runTimedLoad({ ...load, url: server.url + WEBHOOK_PATH, watchPids: { server: server.child.pid } });
    const rssBytes = memoryOf(server.child.pid)?.rss;
    await server.child.stop();
    return { load: result, rssBytes };
  };

  // A fresh fake WeCom, relay and outbox per round, so rounds do not inherit a backlog.
  const runRelay = async (driver: Driver, round: number): Promise<ServerRun> => {
    const { robotRate } = settings;
    const wecom = await startFakeWeComProcess(children, { max: robotRate.max, perMs: robotRate.perMs });
    const configYaml = benchRelayConfig({
      apiBase: wecom.url,
      robotKey: `bench-ingest-robot-${driver}-${round}`,
      rateLimit: { max: robotRate.max, per: robotRate.per },
      coalesceAfter: settings.coalesceAfter,
      bearerToken: BEARER_TOKEN,
      storage: await storages.fresh(driver),
    });
    const relayServer = await startRelayServer(children, {
      configYaml,
      dir: mkdtempSync(join(workDir, `ingest-${driver}-${round}-`)),
      ...(settings.relayNodeArgs && { nodeArgs: settings.relayNodeArgs }),
    });
    const result = await runTimedLoad({
      ...load,
      url: relayServer.url + WEBHOOK_PATH,
      watchPids: { server: relayServer.child.pid, "fake WeCom": wecom.child.pid },
      watchGroups: { database: () => storages.databasePids(driver) },
    });
    const rssBytes = memoryOf(relayServer.child.pid)?.rss;
    const counts = await wecom.counts();
    const scrape = await scrapeMetrics(relayServer.url).catch(() => undefined);
    await relayServer.child.stop();
    await wecom.child.stop();
    return {
      load: result,
      rssBytes,
      delivered: {
        messages: counts.messages,
        rateLimited: counts.errcodes["45009"] ?? 0,
        // No series until the first digest.
        coalescedRows: scrape && (metric(scrape, "coalesced_total") ?? 0),
      },
    };
  };

  const bareRuns: ServerRun[] = [];
  const expressRuns: ServerRun[] = [];
  const relayRuns = new Map<Driver, ServerRun[]>(storages.drivers.map((driver) => [driver, []]));
  for (let round = 1; round <= settings.rounds; round++) {
    // Alternating spreads slow moments of a shared machine over every server.
    bareRuns.push(await runBaseline("bare"));
    expressRuns.push(await runBaseline("express"));
    for (const driver of storages.drivers) relayRuns.get(driver)!.push(await runRelay(driver, round));
  }

  return {
    settings,
    alertsPerPayload: ALERTS_PER_PAYLOAD,
    payloadBytes: Math.round(bodies.reduce((sum, body) => sum + body.length, 0) / bodies.length),
    bare: summarise(bareRuns),
    express: summarise(expressRuns),
    relays: storages.drivers.map((driver) => ({ driver, rounds: summarise(relayRuns.get(driver)!) })),
  };
}
