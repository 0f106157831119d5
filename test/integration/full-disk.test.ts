// A full disk under the outbox, for real: the data dir on a small tmpfs the test mounts
// (as root, as CI runs). Every 2xx still means stored; while the outbox cannot write,
// /-/ready says why with 503; once space returns, intake and delivery resume by
// themselves and nothing acknowledged is lost.
import { execFileSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChildRelay, type ChildRelay } from "../support/child-relay.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { metricValue, robotConfig } from "../support/relay.js";
import { tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";

const tmp = tempDir();
const mountPoint = join(tmp.dir, "small-disk");

function mountSmallDisk(): string | undefined {
  mkdirSync(mountPoint, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", mountPoint], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs (needs root): ${(err as Error).message.split("\n")[0]}`;
  }
}

const cannotMount = mountSmallDisk();
const required = process.env.WECOM_RELAY_REQUIRE_E2E === "1";

describe.runIf(cannotMount === undefined || required)("a full disk under the outbox", () => {
  let wecom: FakeWeCom;
  let relay: ChildRelay;

  beforeAll(async () => {
    if (cannotMount !== undefined) throw new Error(cannotMount);
    wecom = await startFakeWeCom({ robotRateLimit: { max: 1000, perMs: 1000 } });
    const configFile = join(tmp.dir, "routes.yml");
    writeFileSync(configFile, robotConfig(wecom.url, { rate: "{ max: 1000, per: 1s }" }));
    relay = await startChildRelay(configFile, join(mountPoint, "data"));
  });
  afterAll(async () => {
    relay?.kill("SIGKILL");
    await relay?.exited;
    await wecom?.close();
    if (cannotMount === undefined) execFileSync("umount", ["-l", mountPoint]);
    tmp.remove();
  });

  const post = async (name: string) => {
    const res = await fetch(`${relay.url}/webhook/alertmanager`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(alertmanagerPayload([{ name, summary: "x".repeat(2000) }])),
    });
    return res.status;
  };
  const ready = async () => {
    const res = await fetch(`${relay.url}/-/ready`);
    return { status: res.status, body: (await res.json()) as { detail?: { reason?: string } } };
  };

  it("acknowledges only what it stored, says why it is not ready, and resumes when space returns", async () => {
    // Fill the disk, leaving the relay a little room.
    const filler = join(mountPoint, "filler");
    const fd = openSync(filler, "w");
    let written = 0;
    try {
      for (;;) {
        writeSync(fd, Buffer.alloc(64 * 1024, 1));
        written += 64 * 1024;
      }
    } catch {
      // ENOSPC: full
    }
    ftruncateSync(fd, Math.max(0, written - 160 * 1024));
    closeSync(fd);

    const accepted: string[] = [];
    let refused = 0;
    for (let i = 0; i < 400 && refused < 5; i++) {
      const status = await post(`Disk${i}`);
      if (status === 200) accepted.push(`Disk${i}`);
      else refused += 1;
    }
    expect(refused).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(0);

    await expect.poll(async () => (await ready()).status, { timeout: 10_000, interval: 200 }).toBe(503);
    expect((await ready()).body.detail?.reason).toMatch(/^the outbox cannot be written: .*(full|disk)/i);
    expect(await post("WhileFull")).toBe(503);
    expect(metricValue(await (await fetch(`${relay.url}/metrics`)).text(), "wecom_relay_outbox_write_failures_total")).toBeGreaterThan(0);

    rmSync(filler);
    await expect.poll(async () => (await ready()).status, { timeout: 10_000, interval: 200 }).toBe(200);
    expect(await post("AfterSpace")).toBe(200);

    const seen = () => new Set(wecom.robotMessages().flatMap((m) => m.content.match(/Disk\d+|AfterSpace/g) ?? []));
    await until(() => [...accepted, "AfterSpace"].every((name) => seen().has(name)), () => `missing ${[...accepted, "AfterSpace"].filter((n) => !seen().has(n)).join(",")}`, 30_000);
  }, 90_000);
});
