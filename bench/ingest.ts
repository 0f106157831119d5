// Ingest: how fast the relay accepts Alertmanager webhooks (each committed to the SQLite
// outbox before the 200) compared with a bare node:http server that only parses the JSON,
// under the same closed-loop load, while the relay delivers to the fake WeCom meanwhile.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { alertmanagerPayload } from "../test/support/payloads.js";
import { startFakeWeComProcess } from "./fake-wecom-process.js";
import { runTimedLoad, type LoadResult } from "./load.js";
import type { ChildSet } from "./processes.js";
import { benchRelayConfig } from "./relay-config.js";
import { startBareServer, startRelayServer } from "./servers.js";

export interface IngestSettings {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  maxRequests: number;
  /** Bare and relay runs alternate this many times; the median of each is reported. */
  rounds: number;
  /** Extra node flags for the relay process (profiling). */
  relayNodeArgs?: string[];
}

export interface IngestResult {
  settings: IngestSettings;
  alertsPerPayload: number;
  payloadBytes: number;
  /** Every round, in order. */
  bareRounds: LoadResult[];
  relayRounds: LoadResult[];
  /** The rounds with the median rate. */
  bare: LoadResult;
  relay: LoadResult;
  /** Messages the fake WeCom accepted from the relay during its median round. */
  delivered: number;
  /** Median relay req/s over median bare req/s. */
  ratio: number;
}

export const DEFAULT_INGEST: IngestSettings = { concurrency: 16, warmupMs: 1000, durationMs: 5000, maxRequests: 500_000, rounds: 3 };

const ALERTS_PER_PAYLOAD = 3;
const DISTINCT_PAYLOADS = 32;
const BEARER_TOKEN = "bench-alertmanager-token";
const PATH = "/webhook/alertmanager";

/** Realistic Alertmanager bodies: three alerts of one group; every fourth is critical (the text route). */
function ingestBodies(): Buffer[] {
  return Array.from({ length: DISTINCT_PAYLOADS }, (_, i) => {
    const severity = i % 4 === 0 ? "critical" : "warning";
    const alerts = Array.from({ length: ALERTS_PER_PAYLOAD }, (_, j) => ({
      name: `HighRequestLatency${i}`,
      severity,
      labels: { instance: `10.0.${i}.${j + 1}:8080`, service: "checkout", cluster: "prod-sh-1" },
      summary: `p99 latency above 2s on 10.0.${i}.${j + 1} for 5 minutes`,
    }));
    return Buffer.from(JSON.stringify(alertmanagerPayload(alerts)));
  });
}

/** The element with the median value (the lower middle for an even count). */
function median<T>(items: readonly T[], value: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => value(a) - value(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export async function runIngest(children: ChildSet, workDir: string, settings: IngestSettings): Promise<IngestResult> {
  const bodies = ingestBodies();
  const load = {
    headers: { authorization: `Bearer ${BEARER_TOKEN}` },
    bodies,
    concurrency: settings.concurrency,
    warmupMs: settings.warmupMs,
    durationMs: settings.durationMs,
    maxRequests: settings.maxRequests,
  };

  const runBare = async (): Promise<LoadResult> => {
    const bareServer = await startBareServer(children);
    const result = await runTimedLoad({ ...load, url: bareServer.url + PATH, watchPids: { server: bareServer.child.pid } });
    await bareServer.child.stop();
    return result;
  };

  // A fresh fake WeCom, relay and outbox per round, so rounds do not inherit a backlog.
  const runRelay = async (round: number): Promise<{ load: LoadResult; delivered: number }> => {
    // WeCom's real limit would stall delivery at once; a high one keeps it sending throughout.
    const wecom = await startFakeWeComProcess(children, { max: 1_000_000, perMs: 1000 });
    const configYaml = benchRelayConfig({
      apiBase: wecom.url,
      robotKey: "bench-ingest-robot",
      rateLimit: { max: 100_000, per: "1s" },
      coalesceAfter: "30s",
      bearerToken: BEARER_TOKEN,
    });
    const relayServer = await startRelayServer(children, {
      configYaml,
      dir: mkdtempSync(join(workDir, `ingest-${round}-`)),
      ...(settings.relayNodeArgs && { nodeArgs: settings.relayNodeArgs }),
    });
    const result = await runTimedLoad({
      ...load,
      url: relayServer.url + PATH,
      watchPids: { server: relayServer.child.pid, "fake WeCom": wecom.child.pid },
    });
    const { messages: delivered } = await wecom.counts();
    await relayServer.child.stop();
    await wecom.child.stop();
    return { load: result, delivered };
  };

  const bareRounds: LoadResult[] = [];
  const relayRuns: { load: LoadResult; delivered: number }[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    // Alternating spreads slow moments of a shared machine over both servers.
    bareRounds.push(await runBare());
    relayRuns.push(await runRelay(round));
  }
  const bare = median(bareRounds, (r) => r.requestsPerSecond);
  const relayRun = median(relayRuns, (r) => r.load.requestsPerSecond);

  return {
    settings,
    alertsPerPayload: ALERTS_PER_PAYLOAD,
    payloadBytes: Math.round(bodies.reduce((sum, body) => sum + body.length, 0) / bodies.length),
    bareRounds,
    relayRounds: relayRuns.map((r) => r.load),
    bare,
    relay: relayRun.load,
    delivered: relayRun.delivered,
    ratio: relayRun.load.requestsPerSecond / bare.requestsPerSecond,
  };
}
