import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { captureLogs } from "../support/capture-logs.js";
import { startChildRelay, type ChildRelay } from "../support/child-relay.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay } from "../support/relay.js";
import { tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";

describe("hot reload", () => {
  let wecom: FakeWeCom;
  let child: ChildRelay | undefined;
  let tmp: ReturnType<typeof tempDir>;

  afterEach(async () => {
    child?.kill("SIGKILL");
    if (child) await child.exited;
    child = undefined;
    await wecom.close();
    tmp?.remove();
  });

  it("applies a new config on SIGHUP and keeps the old one when the new one is bad", async () => {
    wecom = await startFakeWeCom();
    tmp = tempDir();
    const configFile = join(tmp.dir, "routes.yml");
    writeFileSync(configFile, robotConfig(wecom.url, { keys: ["before"] }));
    child = await startChildRelay(configFile, join(tmp.dir, "data"));
    const post = (name: string) =>
      fetch(`${child!.url}/webhook/alertmanager`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(alertmanagerPayload([{ name }])),
      });

    expect((await post("First")).status).toBe(200);
    await wecom.waitForRobotMessages(1, { key: "before" });

    writeFileSync(configFile, robotConfig(wecom.url, { keys: ["after"] }));
    child.kill("SIGHUP");
    await until(() => child!.logs.some((line) => line.includes('"msg":"config reloaded"')), () => "the reload");
    expect((await post("Second")).status).toBe(200);
    const [second] = await wecom.waitForRobotMessages(1, { key: "after" });
    expect(second!.content).toContain("Second");

    writeFileSync(configFile, "route: [this is not a config");
    child.kill("SIGHUP");
    await until(() => child!.logs.some((line) => line.includes("config reload failed")), () => "the failed reload");
    expect((await post("Third")).status).toBe(200);
    await until(() => wecom.robotMessages("after").some((m) => m.content.includes("Third")), () => "delivery with the old config");
    expect(wecom.robotMessages("before")).toHaveLength(1);
  });

  it("keeps messages queued for a target a reload removed, with a warning, and sends them when it returns", async () => {
    wecom = await startFakeWeCom();
    const capture = captureLogs("warn");
    const original = robotConfig(wecom.url, { rate: "{ max: 1, per: 10s }" });
    const relay = await startRelay(original);
    try {
      for (const name of ["A1", "A2", "A3"]) await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name }]));
      await wecom.waitForRobotMessages(1);
      writeFileSync(relay.configFile, original.replace(/robot-1/g, "robot-2").replace('"k1"', '"k2"'));
      expect((await relay.post("/-/reload", "")).status).toBe(200);
      await expect
        .poll(() => capture.lines.some((line) => line.includes("queued messages wait for a target that is not in the config") && line.includes("robot-1")))
        .toBe(true);
      expect((await relay.service.store.depthByTarget()).get("robot-1")).toBe(2);

      writeFileSync(relay.configFile, original.replace("{ max: 1, per: 10s }", "{ max: 20, per: 1s }"));
      expect((await relay.post("/-/reload", "")).status).toBe(200);
      const messages = await wecom.waitForRobotMessages(3, { key: "k1" });
      expect(messages.map((m) => /A\d/.exec(m.content)?.[0])).toEqual(["A1", "A2", "A3"]);
    } finally {
      capture.stop();
      await relay.close();
    }
  });
});
