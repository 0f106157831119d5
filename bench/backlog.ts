// Backlog: the relay restarted with 100,000 messages queued for one robot (written into
// its outbox with the Store before it starts), paced at the robot's 20 a minute with
// coalescing on, so it packs and sends digests the whole time. Meanwhile it takes
// moderate ingest load and /-/ready is probed every 100 ms. Does the backlog block the
// event loop, slow the probe or the webhooks, or blow up memory?
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import type { Message } from "../src/types.js";
import { message } from "../test/support/messages.js";
import { startFakeWeComProcess } from "./fake-wecom-process.js";
import { getRequestBytes, KeepAliveConnection } from "./http-client.js";
import { BEARER_TOKEN, ingestBodies, ROBOT_RATE, STAMP, WEBHOOK_PATH, type RobotRate } from "./ingest.js";
import { runTimedLoad, type LoadResult } from "./load.js";
import { metric, scrapeMetrics, type Scrape } from "./metrics.js";
import { memoryOf, type ChildSet } from "./processes.js";
import { benchRelayConfig, type BenchStorage } from "./relay-config.js";
import { relayDataDir, startRelayServer } from "./servers.js";
import { percentile } from "./stats.js";
import type { Driver, Storages } from "./storage.js";

export interface BacklogSettings {
  /** Rows queued for the robot before the relay starts. */
  queued: number;
  /** Rows per stored request while filling (one Store.accept writes `fillBatch` requests). */
  messagesPerRequest: number;
  fillBatch: number;
  /** Ingest load before the window, not measured (JIT warm-up). */
  warmupMs: number;
  /** The measured window. */
  windowMs: number;
  concurrency: number;
  probeEveryMs: number;
  robotRate: RobotRate;
  coalesceAfter: string;
  relayNodeArgs?: string[];
}

export const DEFAULT_BACKLOG: BacklogSettings = {
  queued: 100_000,
  messagesPerRequest: 100,
  fillBatch: 10,
  warmupMs: 1000,
  windowMs: 10_000,
  concurrency: 8,
  probeEveryMs: 100,
  robotRate: ROBOT_RATE,
  coalesceAfter: "30s",
};

export interface Probes {
  /** Probes answered 200. */
  ok: number;
  /** Non-200 answers and timeouts. */
  failed: number;
  latencyMs: { p50: number; p99: number; max: number };
}

export interface BacklogRun {
  driver: Driver;
  /** Writing the rows with the Store, before the relay started. */
  fillMs: number;
  /** From starting the relay process until /-/ready answered 200. */
  startMs: number;
  /** wecom_relay_outbox_depth at the first and last scrape. */
  queuedAtStart: number | undefined;
  queuedAtEnd: number | undefined;
  /** How long /metrics took to answer at the start and end of the window (it counts the queue). */
  scrapeMs: { start: number; end: number };
  /** prom-client's event-loop delay histogram over the window (reset by the first scrape). */
  loopDelayMs: { max: number | undefined; p99: number | undefined };
  ready: Probes;
  /** wecom_relay_process_resident_memory_bytes at the last scrape, and the process's peak (VmHWM). */
  rssBytes: number | undefined;
  peakRssBytes: number | undefined;
  ingest: LoadResult;
  /** Messages the fake WeCom accepted during the window, and the queued rows they carried. */
  digests: number;
  coalescedRows: number;
  rateLimited: number;
}

export interface BacklogResult {
  settings: BacklogSettings;
  runs: BacklogRun[];
}

const PROBE_TIMEOUT_MS = 5000;
const TARGET = "sre-robot";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** A queued alert as the relay would have rendered it for the robot (about 500 bytes of markdown). */
function backlogMessage(i: number): Message {
  const name = `BacklogAlert${String(i).padStart(6, "0")}`;
  const instance = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9100`;
  return message({
    target: TARGET,
    receiver: "sre",
    msgtype: "markdown",
    content:
      `## <font color="warning">🟠 [FIRING:1] ${name}</font>\n<font color="comment">warning · sre</font>\n\n` +
      `🟠 **${name}** · \`${instance}\`\n> Disk almost full on /var (92% used)\n` +
      `> Filesystem /var on ${instance} has less than 8% space left and fills at 1 GB/h.\n` +
      `> <font color="comment">since 06-01 08:00 +08:00</font> · [source](http://prometheus:9090/graph?g0.expr=node_filesystem_avail_bytes)\n\n` +
      `[silence](http://alertmanager:9093/#/silences/new) · [alertmanager](http://alertmanager:9093)`,
    mention: [],
    summary: `[FIRING:1] ${name} · ${instance} · Disk almost full on /var (92% used)`,
    eventIds: [`alertmanager-${i.toString(16).padStart(16, "0")}`],
  });
}

/** Writes `settings.queued` rows for the robot with the Store the relay will open; returns ms taken. */
async function fill(storages: Storages, storage: BenchStorage, dataDir: string, settings: BacklogSettings): Promise<number> {
  const startedAt = performance.now();
  const store = await storages.open(storage, dataDir);
  try {
    let written = 0;
    while (written < settings.queued) {
      const requests = [];
      for (let r = 0; r < settings.fillBatch && written < settings.queued; r++) {
        const messages: Message[] = [];
        for (let m = 0; m < settings.messagesPerRequest && written < settings.queued; m++) messages.push(backlogMessage(written++));
        requests.push({ messages });
      }
      await store.accept(requests, Date.now());
    }
  } finally {
    await store.close();
  }
  return performance.now() - startedAt;
}

/** GET /-/ready every `everyMs` (never two at once, no catch-up bursts) for `windowMs`. */
async function probeReady(baseUrl: string, windowMs: number, everyMs: number): Promise<Probes> {
  const url = new URL(`${baseUrl}/-/ready`);
  const request = getRequestBytes(url);
  const connection = new KeepAliveConnection(url.hostname, Number(url.port), PROBE_TIMEOUT_MS);
  const latencies: number[] = [];
  let failed = 0;
  const end = performance.now() + windowMs;
  let next = performance.now();
  try {
    while (next < end) {
      await sleep(next - performance.now());
      const startedAt = performance.now();
      try {
        const status = await connection.send(request);
        if (status === 200) latencies.push(performance.now() - startedAt);
        else failed += 1;
      } catch {
        failed += 1;
      }
      next = Math.max(next + everyMs, performance.now());
    }
  } finally {
    connection.close();
  }
  latencies.sort((a, b) => a - b);
  return { ok: latencies.length, failed, latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN } };
}

const seconds = (scrape: Scrape, name: string) => {
  const value = metric(scrape, name);
  return value === undefined ? undefined : value * 1000;
};

async function runOne(children: ChildSet, workDir: string, storages: Storages, driver: Driver, settings: BacklogSettings): Promise<BacklogRun> {
  const dir = mkdtempSync(join(workDir, `backlog-${driver}-`));
  const storage = await storages.fresh(driver);
  const fillMs = await fill(storages, storage, relayDataDir(dir), settings);

  const { robotRate } = settings;
  const wecom = await startFakeWeComProcess(children, { max: robotRate.max, perMs: robotRate.perMs });
  const launchedAt = performance.now();
  const relay = await startRelayServer(children, {
    configYaml: benchRelayConfig({
      apiBase: wecom.url,
      robotKey: `bench-backlog-robot-${driver}`,
      rateLimit: { max: robotRate.max, per: robotRate.per },
      coalesceAfter: settings.coalesceAfter,
      bearerToken: BEARER_TOKEN,
      storage,
    }),
    dir,
    ...(settings.relayNodeArgs && { nodeArgs: settings.relayNodeArgs }),
  });
  const startMs = performance.now() - launchedAt;

  try {
    const loading = runTimedLoad({
      url: relay.url + WEBHOOK_PATH,
      headers: { authorization: `Bearer ${BEARER_TOKEN}` },
      bodies: ingestBodies(),
      stamp: STAMP,
      concurrency: settings.concurrency,
      warmupMs: settings.warmupMs,
      durationMs: settings.windowMs,
      maxRequests: 1_000_000,
      watchPids: { server: relay.child.pid, "fake WeCom": wecom.child.pid },
      watchGroups: { database: () => storages.databasePids(driver) },
    });
    // Awaited below; if the window fails first, its rejection must not crash the run.
    loading.catch(() => undefined);
    // The window: this scrape resets prom-client's event-loop histogram, the last one reads it.
    await sleep(settings.warmupMs);
    const first = await scrapeMetrics(relay.url);
    const sentBefore = (await wecom.counts()).messages;
    const ready = await probeReady(relay.url, settings.windowMs - first.latencyMs, settings.probeEveryMs);
    const ingest = await loading;
    const counts = await wecom.counts();
    const last = await scrapeMetrics(relay.url);
    const memory = memoryOf(relay.child.pid);
    // No series until the first digest.
    const coalesced = (scrape: Scrape) => metric(scrape, "coalesced_total") ?? 0;
    return {
      driver,
      fillMs,
      startMs,
      queuedAtStart: metric(first, "outbox_depth", { target: TARGET }),
      queuedAtEnd: metric(last, "outbox_depth", { target: TARGET }),
      scrapeMs: { start: first.latencyMs, end: last.latencyMs },
      loopDelayMs: { max: seconds(last, "nodejs_eventloop_lag_max_seconds"), p99: seconds(last, "nodejs_eventloop_lag_p99_seconds") },
      ready,
      rssBytes: metric(last, "process_resident_memory_bytes"),
      peakRssBytes: memory?.peak,
      ingest,
      digests: counts.messages - sentBefore,
      coalescedRows: coalesced(last) - coalesced(first),
      rateLimited: counts.errcodes["45009"] ?? 0,
    };
  } finally {
    await relay.child.stop();
    await wecom.child.stop();
  }
}

export async function runBacklog(children: ChildSet, workDir: string, storages: Storages, settings: BacklogSettings): Promise<BacklogResult> {
  const runs: BacklogRun[] = [];
  for (const driver of storages.drivers) runs.push(await runOne(children, workDir, storages, driver, settings));
  return { settings, runs };
}
