import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";
import { tempDir } from "../support/tmp.js";

describe("pacing across restarts and worker failures", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay | undefined;
  const tmp = tempDir();

  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    await wecom.close();
  });

  it("keeps a robot's pace across a restart: the first send waits for the previous process's last one", async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    const config = robotConfig(wecom.url, { rate: "{ max: 1, per: 1500ms }" });
    const dataDir = join(tmp.dir, "restart");
    relay = await startRelay(config, { dataDir });
    await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "BeforeRestart" }]));
    await wecom.waitForRobotMessages(1);
    await relay.close();

    relay = await startRelay(config, { dataDir });
    await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "AfterRestart" }]));
    const [first, second] = await wecom.waitForRobotMessages(2, { timeoutMs: 5000 });
    expect(second!.content).toContain("AfterRestart");
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(1500);
  });

  it("restarts a delivery worker that failed, and delivers what was queued", async () => {
    wecom = await startFakeWeCom();
    relay = await startRelay(robotConfig(wecom.url));
    const failure = vi.spyOn(relay.service.store, "dueCount").mockImplementationOnce(() => {
      throw new Error("SQLITE_IOERR: disk I/O error");
    });
    await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Survivor" }]));
    const [message] = await wecom.waitForRobotMessages(1, { timeoutMs: 5000 });
    expect(message!.content).toContain("Survivor");
    expect(failure).toHaveBeenCalled();
    failure.mockRestore();
  });
});
