// Several relays on one PostgreSQL outbox, as replicas behind one Service: one pace per
// robot between them, a killed replica's targets taken over, events accepted once, and a
// database outage answered with 503 until it is back.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { startChildRelay, type ChildRelay } from "../support/child-relay.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { pullRequestPayload } from "../support/github-payloads.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { postgresForThisFile, postgresUnavailable, requirePostgres } from "../support/postgres.js";
import { tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";

const pgMissing = postgresUnavailable();

const server = postgresForThisFile();

const name = (i: number) => `Replica${String(i).padStart(4, "0")}`;

function namesSeen(wecom: FakeWeCom): Set<string> {
  return new Set(wecom.robotMessages().flatMap((m) => m.content.match(/Replica\d{4}/g) ?? []));
}

function rateLimited(wecom: FakeWeCom): number {
  return wecom.requests("robot").filter((r) => typeof r.reply === "object" && r.reply.errcode === 45009).length;
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<number> {
  try {
    const res = await fetch(url + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

describe.runIf(pgMissing === undefined || requirePostgres)("replicas on one PostgreSQL outbox", () => {
  let wecom: FakeWeCom;
  let tmp: ReturnType<typeof tempDir>;
  let relays: ChildRelay[] = [];
  let url: string;

  const config = (rate: string, coalesceAfter = "2s") => `
wecom: { api_base: "${wecom.url}", timeout: 2s }
storage: { driver: postgres, url: "${url}", lease: 3s }
delivery: { retry_initial: 100ms, retry_max: 500ms, coalesce_after: ${coalesceAfter} }
targets:
  robot-1: { type: robot, webhook: "k1", rate_limit: ${rate} }
receivers:
  - name: sre
    targets: [robot-1]
route:
  receiver: sre
`;

  const start = async (configFile: string, index: number) => {
    const relay = await startChildRelay(configFile, join(tmp.dir, `unused-${index}`));
    relays.push(relay);
    return relay;
  };

  const setup = async (rate = "{ max: 20, per: 1s }", fakeLimit = { max: 20, perMs: 1000 }, coalesceAfter = "2s") => {
    wecom = await startFakeWeCom({ robotRateLimit: fakeLimit });
    tmp = tempDir();
    url = await server()!.createDatabase();
    const configFile = join(tmp.dir, "routes.yml");
    writeFileSync(configFile, config(rate, coalesceAfter));
    const a = await start(configFile, 1);
    const b = await start(configFile, 2);
    return { a, b, configFile };
  };

  afterEach(async () => {
    for (const relay of relays) relay.kill("SIGKILL");
    await Promise.all(relays.map((relay) => relay.exited));
    relays = [];
    await server()?.start();
    await wecom?.close();
    tmp?.remove();
  });

  it("delivers 2,000 alerts split across two replicas within one shared pace, and the survivor finishes after kill -9 of the holder", async () => {
    const { a, b } = await setup();
    const total = 2000;
    let alive = [a, b];
    let next = 0;
    // Alertmanager's behaviour: a webhook that was not answered 2xx is sent again (here: to a live replica).
    const sender = async () => {
      while (next < total) {
        const i = next++;
        let status = 0;
        for (let attempt = 0; status !== 200 && attempt < 5; attempt++) {
          status = await post(alive[(i + attempt) % alive.length]!.url, "/webhook/alertmanager", alertmanagerPayload([{ name: name(i) }]));
        }
        expect(status).toBe(200);
      }
    };
    const posting = Promise.all(Array.from({ length: 16 }, sender));

    // Mid-storm, kill the replica that holds the robot's target at that moment.
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    let holder: ChildRelay | undefined;
    await until(() => holder !== undefined || next >= total, () => "no replica held the target during the storm", 30_000, async () => {
      if (next < total / 4) return;
      const { rows } = await db.query<{ holder: string }>("SELECT holder FROM leases WHERE target = 'robot-1'");
      const pid = rows[0] === undefined ? undefined : Number(rows[0].holder.split(":")[1]);
      holder = [a, b].find((relay) => relay.process.pid === pid);
    });
    await db.end();
    expect(holder).toBeDefined();
    alive = [holder === a ? b : a];
    holder!.kill("SIGKILL");
    await holder!.exited;
    expect(next).toBeLessThan(total); // still posting: the storm goes on
    await posting;

    await until(() => namesSeen(wecom).size === total, () => `seen ${namesSeen(wecom).size} of ${total}`, 60_000);
    expect(rateLimited(wecom)).toBe(0);
    // One pace between the replicas: never more than 20 accepted in any second.
    const times = wecom.robotMessages().map((m) => m.receivedAt).sort((x, y) => x - y);
    for (let i = 20; i < times.length; i++) expect(times[i]! - times[i - 20]!).toBeGreaterThanOrEqual(1000);
  }, 120_000);

  it("queues the same GitHub delivery once, whichever replica it reaches", async () => {
    const { a, b } = await setup();
    const headers = { "x-github-event": "pull_request", "x-github-delivery": "7c9d1b3e-0000-4000-8000-replicas0001" };
    const statuses = await Promise.all([a, b].map((relay) => post(relay.url, "/webhook/github", pullRequestPayload("opened"), headers)));
    expect(statuses.sort()).toEqual([200, 202]);
    await wecom.waitForRobotMessages(1);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(wecom.robotMessages()).toHaveLength(1);
  }, 60_000);

  it("answers 503 while the database is down, and delivers again once it is back", async () => {
    const { a } = await setup();
    expect(await post(a.url, "/webhook/alertmanager", alertmanagerPayload([{ name: name(1) }]))).toBe(200);
    await until(() => namesSeen(wecom).has(name(1)), () => "first alert not delivered");

    await server()!.stop();
    const ready = async () => (await fetch(`${a.url}/-/ready`)).status;
    await expect.poll(ready, { timeout: 15_000, interval: 200 }).toBe(503);
    expect(await post(a.url, "/webhook/alertmanager", alertmanagerPayload([{ name: name(2) }]))).toBe(503);

    await server()!.start();
    await expect.poll(ready, { timeout: 15_000, interval: 200 }).toBe(200);
    expect(await post(a.url, "/webhook/alertmanager", alertmanagerPayload([{ name: name(3) }]))).toBe(200);
    await until(() => namesSeen(wecom).has(name(3)), () => "delivery did not resume", 15_000);
    expect(namesSeen(wecom).has(name(2))).toBe(false);
  }, 60_000);

  it("keeps the window when a reload lowers the rate mid-storm: no 45009", async () => {
    // No digests here: one message per alert, so the storm lasts across the reload.
    const { a, b, configFile } = await setup("{ max: 20, per: 1s }", { max: 20, perMs: 1000 }, "1h");
    for (let i = 0; i < 100; i++) expect(await post((i % 2 ? a : b).url, "/webhook/alertmanager", alertmanagerPayload([{ name: name(i) }]))).toBe(200);
    // Reload while the storm is at full pace: at least 10 sends in the last second.
    const lastSecond = () => wecom.robotMessages().filter((m) => m.receivedAt > Date.now() - 1000).length;
    await until(() => wecom.robotMessages().length >= 20 && lastSecond() >= 10, () => `sent ${wecom.robotMessages().length}, ${lastSecond()} in the last second`, 15_000);
    // The rate drops to WeCom's, while the sends of the last second still count there.
    writeFileSync(configFile, config("{ max: 5, per: 1s }", "1h"));
    for (const relay of [a, b]) expect(await post(relay.url, "/-/reload", {})).toBe(200);
    wecom.setRobotRateLimit(5, 1000);
    const reloadedAt = Date.now();
    await until(() => namesSeen(wecom).size === 100, () => `seen ${namesSeen(wecom).size} of 100`, 60_000);
    expect(rateLimited(wecom)).toBe(0);
    expect(wecom.robotMessages().filter((m) => m.receivedAt > reloadedAt).length).toBeGreaterThan(10);
  }, 90_000);
});
