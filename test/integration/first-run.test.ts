// The first run a new user makes: the shipped routes.yml, nothing set, an example posted.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { startChildRelay, type ChildRelay } from "../support/child-relay.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";

const shippedConfig = join(packageRoot(), "routes.yml");
const example = (name: string) => readFileSync(join(packageRoot(), "examples", name), "utf8");

describe("first run with the shipped routes.yml", () => {
  let relay: ChildRelay | undefined;
  let wecom: FakeWeCom | undefined;
  const tmp = tempDir();

  afterEach(async () => {
    relay?.kill("SIGTERM");
    await relay?.exited;
    relay = undefined;
    await wecom?.close();
    wecom = undefined;
  });

  const post = (path: string, body: string) =>
    fetch(`${relay!.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });

  it("runs with nothing set on loopback, prints each message as WeCom would receive it, and names the variable that makes it real", async () => {
    relay = await startChildRelay(shippedConfig, join(tmp.dir, "printed"), {}, { listen: "127.0.0.1:0" });
    await until(() => relay!.logs.some((line) => line.includes("Send to a real group robot")), () => relay!.logs.join("\n"));
    const banner = relay.logs.join("\n");
    expect(banner).toContain("No WeCom robot is set for sre-robot");
    expect(banner).toContain("WECOM_ROBOT_WEBHOOK='https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...' npm start");
    expect(banner).toContain("--data-binary @examples/alertmanager-firing.json");

    const answer = await post("/webhook/alertmanager", example("alertmanager-firing.json"));
    expect(answer.status).toBe(200);

    await until(() => relay!.logs.some((line) => line.startsWith("──── body: ")), () => relay!.logs.join("\n"));
    const header = relay.logs.find((line) => line.startsWith("──── sre-robot (log target: printed, not sent)"));
    // The example is a critical alert firing: the shipped route pages @all, in text.
    expect(header).toMatch(/· text · \d+ bytes/);
    const body = JSON.parse(relay.logs.find((line) => line.startsWith("──── body: "))!.slice("──── body: ".length)) as {
      msgtype: string;
      text: { content: string; mentioned_list?: string[] };
    };
    expect(body.msgtype).toBe("text");
    expect(body.text.mentioned_list).toEqual(["@all"]);
    expect(body.text.content).toContain("DiskFull");
    // The content is printed as it stands before the body, line for line.
    const start = relay.logs.indexOf(header!);
    expect(relay.logs.slice(start + 1, start + 1 + body.text.content.split("\n").length).join("\n")).toBe(body.text.content);
    // Loopback: no warning about open sources.
    expect(relay.logs.join("\n")).not.toContain("accepts anyone");
  });

  it("sends to the robot URL as written, host included, once WECOM_ROBOT_WEBHOOK is set", async () => {
    wecom = await startFakeWeCom();
    relay = await startChildRelay(shippedConfig, join(tmp.dir, "real"), { WECOM_ROBOT_WEBHOOK: wecom.robotWebhook("first-run-key") });
    expect(relay.logs.join("\n")).not.toContain("No WeCom robot");

    expect((await post("/webhook/alertmanager", example("alertmanager-firing.json"))).status).toBe(200);

    await until(() => wecom!.robotMessages("first-run-key").length === 1, () => relay!.logs.join("\n"));
    expect(JSON.stringify(wecom.robotMessages("first-run-key")[0]?.body)).toContain("DiskFull");
    expect(relay.logs.join("\n")).not.toContain("first-run-key");
  });

  it("warns about each source left open when listening beyond loopback", async () => {
    relay = await startChildRelay(shippedConfig, join(tmp.dir, "open"), { AM_TOKEN: "first-run-am-token" }, { listen: "0.0.0.0:0" });
    const openSources = () => relay!.logs.filter((line) => line.includes("accepts anyone"));
    await until(() => openSources().length >= 3, () => relay!.logs.join("\n"));
    const warnings = relay.logs.filter((line) => line.includes("accepts anyone")).map((line) => (JSON.parse(line) as { source: string }).source);
    expect(warnings.sort()).toEqual(["api", "github", "grafana"]);
  });
});
