// Storm: thousands of alerts at a robot limited to 20 messages a second. The relay must
// stay within the limit (no 45009) and still get every alert name through, by coalescing
// its backlog into digests; the baseline is sending each alert as its own message.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { alertmanagerPayload } from "../test/support/payloads.js";
import { startFakeWeComProcess } from "./fake-wecom-process.js";
import { postEach, type EachResult } from "./load.js";
import type { ChildSet } from "./processes.js";
import { benchRelayConfig } from "./relay-config.js";
import { startRelayServer } from "./servers.js";
import { maxInWindow } from "./stats.js";

export interface StormSettings {
  alerts: number;
  /** Robot limit, enforced by the fake WeCom and configured on the relay's target. */
  ratePerSecond: number;
  coalesceAfter: string;
  concurrency: number;
  /** Give up waiting for every alert name after this long. */
  timeoutMs: number;
}

export interface StormResult {
  settings: StormSettings;
  posting: EachResult;
  /** From the first POST until the fake WeCom had received every alert name; undefined if it never did. */
  allSeenMs: number | undefined;
  /** Alert names never seen by the fake within the timeout. */
  missing: number;
  /** Robot requests the relay made (accepted or not). */
  messages: number;
  maxInAnySecond: number;
  rateLimited: number;
  /** Sending every alert as its own message at the robot's limit. */
  baselineMs: number;
  /** allSeenMs over baselineMs. */
  ratio: number | undefined;
}

export const DEFAULT_STORM: StormSettings = { alerts: 2000, ratePerSecond: 20, coalesceAfter: "2s", concurrency: 16, timeoutMs: 60_000 };

const BEARER_TOKEN = "bench-alertmanager-token";
const POLL_MS = 100;
/** After the last name arrived, watch this long for stray sends that would break the limit. */
const SETTLE_MS = 1500;
const RATE_LIMITED = 45009;

/** Zero-padded, so no name is a prefix of another and a regex finds each exactly. */
function alertName(i: number, count: number): string {
  return `StormAlert${String(i + 1).padStart(String(count).length, "0")}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runStorm(children: ChildSet, workDir: string, settings: StormSettings): Promise<StormResult> {
  const wecom = await startFakeWeComProcess(children, { max: settings.ratePerSecond, perMs: 1000 });
  const relayServer = await startRelayServer(children, {
    configYaml: benchRelayConfig({
      apiBase: wecom.url,
      robotKey: "bench-storm-robot",
      rateLimit: { max: settings.ratePerSecond, per: "1s" },
      coalesceAfter: settings.coalesceAfter,
      bearerToken: BEARER_TOKEN,
    }),
    dir: mkdtempSync(join(workDir, "storm-")),
  });

  // One alert per webhook: the most messages the relay could have to send.
  const bodies = Array.from({ length: settings.alerts }, (_, i) =>
    Buffer.from(JSON.stringify(alertmanagerPayload([{ name: alertName(i, settings.alerts), severity: "warning" }]))),
  );
  const seen = new Set<string>();
  const requestTimes: number[] = [];
  let rateLimited = 0;
  let messagesRead = 0;
  let lastNewNameAt: number | undefined;

  const readNewLog = async () => {
    const log = await wecom.log(messagesRead, requestTimes.length);
    messagesRead += log.messages.length;
    for (const request of log.requests) {
      requestTimes.push(request.receivedAt);
      if (request.errcode === RATE_LIMITED) rateLimited += 1;
    }
    for (const message of log.messages) {
      for (const [name] of message.content.matchAll(/StormAlert\d+/g)) {
        if (seen.has(name)) continue;
        seen.add(name);
        lastNewNameAt = message.receivedAt;
      }
    }
  };

  const startedAt = Date.now();
  const deadline = startedAt + settings.timeoutMs;
  const posting = postEach({
    url: `${relayServer.url}/webhook/alertmanager`,
    headers: { authorization: `Bearer ${BEARER_TOKEN}` },
    bodies,
    concurrency: settings.concurrency,
    timeoutMs: settings.timeoutMs,
  });
  let postingSettled = false;
  posting.then(
    () => (postingSettled = true),
    () => (postingSettled = true),
  );
  while (Date.now() < deadline && (seen.size < settings.alerts || !postingSettled)) {
    await sleep(POLL_MS);
    await readNewLog();
  }
  const postingResult = await posting;
  const allSeen = seen.size === settings.alerts;
  if (allSeen) {
    await sleep(SETTLE_MS);
    await readNewLog();
  }
  await relayServer.child.stop();
  await wecom.child.stop();

  const baselineMs = (settings.alerts / settings.ratePerSecond) * 1000;
  const allSeenMs = allSeen && lastNewNameAt !== undefined ? lastNewNameAt - startedAt : undefined;
  return {
    settings,
    posting: postingResult,
    allSeenMs,
    missing: settings.alerts - seen.size,
    messages: requestTimes.length,
    maxInAnySecond: maxInWindow(requestTimes, 1000),
    rateLimited,
    baselineMs,
    ratio: allSeenMs === undefined ? undefined : allSeenMs / baselineMs,
  };
}
