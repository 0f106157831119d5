import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startChildRelay, type ChildRelay } from "../support/child-relay.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig } from "../support/relay.js";
import { tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";

const name = (i: number) => `Storm${String(i).padStart(4, "0")}`;

/** Every alert name the fake received, across all messages (digests list several). */
function namesSeen(wecom: FakeWeCom): Set<string> {
  return new Set(wecom.robotMessages().flatMap((m) => m.content.match(/Storm\d{4}/g) ?? []));
}

async function post(url: string, body: unknown): Promise<number> {
  try {
    const res = await fetch(`${url}/webhook/alertmanager`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return res.status;
  } catch {
    return 0; // the relay is gone: not accepted
  }
}

describe("durable delivery (relay as a child process)", () => {
  let wecom: FakeWeCom;
  let tmp: ReturnType<typeof tempDir>;
  let relays: ChildRelay[];

  beforeEach(async () => {
    tmp = tempDir();
    relays = [];
  });
  afterEach(async () => {
    for (const relay of relays) relay.kill("SIGKILL");
    await Promise.all(relays.map((relay) => relay.exited));
    await wecom.close();
    tmp.remove();
  });

  it("delivers every accepted alert after a SIGKILL mid-storm and a restart on the same data dir", async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 50, perMs: 1000 } });
    const configFile = join(tmp.dir, "routes.yml");
    writeFileSync(configFile, robotConfig(wecom.url, { rate: "{ max: 40, per: 1s }" }));
    const dataDir = join(tmp.dir, "data");
    const first = await startChildRelay(configFile, dataDir);
    relays.push(first);

    const accepted: string[] = [];
    let next = 0;
    const sender = async () => {
      while (next < 300) {
        const i = next++;
        if ((await post(first.url, alertmanagerPayload([{ name: name(i) }]))) === 200) accepted.push(name(i));
      }
    };
    const senders = Promise.all([sender(), sender(), sender(), sender()]);
    await until(() => accepted.length >= 120, () => `${accepted.length} accepted`, 20_000);
    first.kill("SIGKILL");
    await first.exited;
    await senders;
    const deliveredBeforeKill = namesSeen(wecom).size;
    expect(accepted.length).toBeGreaterThanOrEqual(120);
    expect(deliveredBeforeKill).toBeLessThan(accepted.length); // the kill left a backlog

    const second = await startChildRelay(configFile, dataDir);
    relays.push(second);
    await until(
      () => accepted.every((n) => namesSeen(wecom).has(n)),
      () => `${accepted.filter((n) => !namesSeen(wecom).has(n)).length} of ${accepted.length} accepted alerts missing`,
      30_000,
    );
  });

  it("delivers a storm of 2000 alerts complete in digests at 20 per second with zero 45009", async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 20, perMs: 1000 } });
    const configFile = join(tmp.dir, "routes.yml");
    writeFileSync(configFile, robotConfig(wecom.url, { rate: "{ max: 20, per: 1s }", coalesceAfter: "2s" }));
    const relay = await startChildRelay(configFile, join(tmp.dir, "data"));
    relays.push(relay);

    let next = 0;
    const sender = async () => {
      while (next < 400) {
        const group = next++;
        const alerts = Array.from({ length: 5 }, (_, j) => ({ name: name(group * 5 + j) }));
        expect(await post(relay.url, alertmanagerPayload(alerts))).toBe(200);
      }
    };
    await Promise.all([sender(), sender(), sender(), sender()]);
    await until(() => namesSeen(wecom).size === 2000, () => `${namesSeen(wecom).size} of 2000 names delivered`, 60_000);

    const rateLimited = wecom.requests("robot").filter((r) => typeof r.reply === "object" && r.reply.errcode === 45009);
    expect(rateLimited).toHaveLength(0);
    const times = wecom.robotMessages().map((m) => m.receivedAt).sort((a, b) => a - b);
    for (let i = 20; i < times.length; i++) expect(times[i]! - times[i - 20]!).toBeGreaterThanOrEqual(1000);
    expect(times.length).toBeLessThan(400); // coalesced: far fewer messages than notifications
  });

  it("on SIGTERM finishes the send in flight, exits 0, and keeps the rest for the next start", async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    const configFile = join(tmp.dir, "routes.yml");
    // One send a second, so most of the batch is still queued at SIGTERM.
    writeFileSync(configFile, robotConfig(wecom.url, { rate: "{ max: 1, per: 1s }" }));
    const dataDir = join(tmp.dir, "data");
    const relay = await startChildRelay(configFile, dataDir);
    relays.push(relay);
    wecom.failNext(1, { delayMs: 800 }, "robot"); // the first send is in flight when SIGTERM lands
    for (let i = 0; i < 10; i++) expect(await post(relay.url, alertmanagerPayload([{ name: name(i) }]))).toBe(200);
    await until(() => wecom.requests("robot").length >= 1, () => "no send started", 5000);
    relay.kill("SIGTERM");
    expect(await relay.exited).toBe(0);
    expect(namesSeen(wecom).has(name(0))).toBe(true); // the in-flight send completed
    expect(namesSeen(wecom).size).toBeLessThan(10);
    expect(relay.logs.some((line) => line.includes("shutting down"))).toBe(true);

    writeFileSync(configFile, robotConfig(wecom.url, { rate: "{ max: 50, per: 1s }" }));
    const again = await startChildRelay(configFile, dataDir);
    relays.push(again);
    await until(() => namesSeen(wecom).size === 10, () => `${namesSeen(wecom).size} of 10 delivered`, 10_000);
  });

  it("refuses a second relay on the same data dir, naming the file, while the first keeps serving", async () => {
    wecom = await startFakeWeCom();
    const configFile = join(tmp.dir, "routes.yml");
    writeFileSync(configFile, robotConfig(wecom.url));
    const dataDir = join(tmp.dir, "data");
    const first = await startChildRelay(configFile, dataDir);
    relays.push(first);
    const second = startChildRelay(configFile, dataDir);
    await expect(second).rejects.toThrow(/relay exited \(1\)[\s\S]*another wecom-relay process is using .*outbox\.db/);
    expect((await fetch(`${first.url}/-/ready`)).status).toBe(200);
  });
});
