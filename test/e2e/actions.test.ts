// Acknowledge and silence from WeCom, end to end: the real Alertmanager notifies the
// relay; an app target gets an interactive card, a robot a signed action link. A click,
// sent as an encrypted callback built with WeCom's published crypto, silences the group in
// Alertmanager and updates the card; the action page does the same in a real browser.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertmanagerBinary, freePort, startAlertmanager, type RunningAlertmanager } from "../support/alertmanager.js";
import { findChromium, launchBrowser } from "../support/browser.js";
import { cardClickCallback, postCallback } from "../support/card-click.js";
import { DEFAULT_FAKE_APP, startFakeWeCom, type FakeWeCom, type RecordedAppMessage } from "../support/fake-wecom.js";
import { startRelay, type RunningRelay } from "../support/relay.js";
import { until } from "../support/wait.js";

const CALLBACK_TOKEN = "cb-token-hJqcu3uJ9Tn2";
const AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const ACTION_SECRET = "action-secret-0123456789abcdef";
const CORP = DEFAULT_FAKE_APP.corpId;
const APP = { corpId: CORP, agentId: DEFAULT_FAKE_APP.agentId, token: CALLBACK_TOKEN, aesKey: AES_KEY };

interface Silence {
  id: string;
  createdBy: string;
  comment: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  status: { state: string };
}

interface Alert {
  labels: Record<string, string>;
  status: { state: string; silencedBy: string[] };
}

describe.skipIf(!alertmanagerBinary)("acknowledge and silence from WeCom, with the real Alertmanager", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;
  let alertmanager: RunningAlertmanager;

  beforeAll(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    const port = await freePort();
    alertmanager = await startAlertmanager(`
route:
  receiver: relay
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: relay
    webhook_configs:
      - url: http://127.0.0.1:${port}/webhook/alertmanager
        send_resolved: true
`);
    relay = await startRelay(
      `
wecom: { api_base: "${wecom.url}", timeout: 2s }
delivery: { retry_initial: 50ms, retry_max: 200ms }
alertmanager: { url: "${alertmanager.url}", timeout: 5s }
actions:
  public_url: http://127.0.0.1:${port}
  secret: ${ACTION_SECRET}
  silence_for: [1h, 4h]
targets:
  oncall-app:
    type: app
    corp_id: ${CORP}
    secret: ${DEFAULT_FAKE_APP.secret}
    agent_id: ${DEFAULT_FAKE_APP.agentId}
    to_user: [zhangsan, lisi]
    rate_limit: { max: 100, per: 1s }
    callback: { token: ${CALLBACK_TOKEN}, aes_key: ${AES_KEY} }
  ops-robot: { type: robot, webhook: "${wecom.robotWebhook("k1")}", rate_limit: { max: 100, per: 1s } }
receivers:
  - name: oncall
    targets: [oncall-app, ops-robot]
route:
  receiver: oncall
  format: card
`,
      { port },
    );
  });

  afterAll(async () => {
    await alertmanager?.stop();
    await relay?.close();
    await wecom?.close();
  });

  const fire = (alertname: string) =>
    alertmanager.postAlerts([
      {
        labels: { alertname, severity: "critical", instance: "db1:9100" },
        annotations: { summary: `${alertname} on db1` },
        startsAt: new Date(Date.now() - 60_000).toISOString(),
      },
    ]);

  const resolve = (alertname: string) =>
    alertmanager.postAlerts([
      {
        labels: { alertname, severity: "critical", instance: "db1:9100" },
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: new Date(Date.now() - 1000).toISOString(),
      },
    ]);

  async function cardFor(alertname: string): Promise<RecordedAppMessage> {
    let found: RecordedAppMessage | undefined;
    await until(() => (found = wecom.appMessages().find((m) => m.msgtype === "template_card" && JSON.stringify(m.body).includes(alertname))) !== undefined, `a card for ${alertname}`, 20_000);
    // The relay remembers the card (and its response_code) once WeCom accepted it.
    await until(async () => (await relay.service.store.actions.card(found!.taskId!)) !== undefined, "the card recorded", 5000);
    return found!;
  }

  /** A click as WeCom reports it: encrypted, signed, posted to the target's callback URL. */
  function clickCallback(taskId: string, eventKey: string, options: { user?: string; createTime?: number; responseCode: string }) {
    const callback = cardClickCallback(APP, { taskId, eventKey, ...options });
    return { query: callback.query, post: (query?: URLSearchParams) => postCallback(`${relay.url}/wecom/callback/oncall-app`, callback, query) };
  }

  const silencesBy = async (createdBy: string) => (await alertmanager.get<Silence[]>("/silences")).filter((s) => s.createdBy === createdBy && s.status.state === "active");

  it("sends a card, silences the group on a click, shows it silenced and updates the card", async () => {
    await fire("E2ECardDisk");
    const card = await cardFor("E2ECardDisk");
    const sent = card.body.template_card as { card_type: string; main_title: { title: string }; button_list: { text: string; key: string }[] };
    expect(sent.card_type).toBe("button_interaction");
    expect(sent.main_title.title).toContain("E2ECardDisk");
    expect(sent.button_list.map((button) => button.text)).toEqual(["Ack", "Silence 1h", "Silence 4h"]);

    const clickCode = wecom.clickResponseCode(card.taskId!);
    const createTime = Math.floor(Date.now() / 1000);
    const click = clickCallback(card.taskId!, "silence:1h", { responseCode: clickCode, createTime });

    // A wrong signature: refused, nothing silenced.
    const forged = new URLSearchParams(click.query);
    forged.set("msg_signature", "0".repeat(40));
    expect((await click.post(forged)).status).toBe(401);

    expect((await click.post()).status).toBe(200);
    await until(async () => (await silencesBy("zhangsan")).length === 1, "the silence in Alertmanager", 10_000);
    const [silence] = await silencesBy("zhangsan");
    expect(silence!.matchers).toEqual([{ name: "alertname", value: "E2ECardDisk", isRegex: false, isEqual: true }]);
    expect(silence!.comment).toContain("wecom-relay");

    // Alertmanager now reports the alert silenced, by that silence.
    await until(async () => {
      const alerts = await alertmanager.get<Alert[]>("/alerts?filter=alertname%3D%22E2ECardDisk%22");
      return alerts[0]?.status.state === "suppressed" && alerts[0].status.silencedBy.includes(silence!.id);
    }, "the alert suppressed", 10_000);

    // The card is updated with the click's own response_code.
    const [update] = await wecom.waitForCardUpdates(1, { timeoutMs: 10_000 });
    expect(update!.responseCode).toBe(clickCode);
    expect(update!.replaceName).toMatch(/^Silenced by zhangsan until \d\d-\d\d \d\d:\d\d \+08:00$/);
    expect(update!.userids).toEqual(["zhangsan", "lisi"]);

    // WeCom retries: the exact same request, and the same click in a new envelope. One silence.
    expect((await click.post()).status).toBe(200);
    const again = clickCallback(card.taskId!, "silence:1h", { responseCode: clickCode, createTime });
    expect((await again.post()).status).toBe(200);
    await new Promise((done) => setTimeout(done, 500));
    expect(await silencesBy("zhangsan")).toHaveLength(1);

    const actions = (await (await fetch(`${relay.url}/api/v1/actions`)).json()) as { actions: { action: string; by: string; result: string; silence_id?: string; via: string }[] };
    const silenced = actions.actions.filter((a) => a.action === "silence" && a.by === "zhangsan");
    expect(silenced).toEqual([expect.objectContaining({ result: "ok", silence_id: silence!.id, via: "card" })]);
    expect(await relay.metric("wecom_relay_actions_total", { action: "silence", result: "ok" })).toBe(1);
    expect(await relay.metric("wecom_relay_callback_events_total", { target: "oncall-app" })).toBeGreaterThanOrEqual(1);
  });

  it("acknowledges from the card: the card names who, and keeps its silence buttons", async () => {
    await fire("E2EAckDisk");
    const card = await cardFor("E2EAckDisk");
    const before = wecom.cardUpdates().length;
    const code = wecom.clickResponseCode(card.taskId!);
    expect((await clickCallback(card.taskId!, "ack", { user: "lisi", responseCode: code }).post()).status).toBe(200);
    await until(() => wecom.cardUpdates().length > before, "the card update", 10_000);
    const update = wecom.cardUpdates().at(-1)!;
    expect(update.responseCode).toBe(code);
    const replaced = update.templateCard as { button_list: { text: string }[]; task_id: string };
    expect(replaced.task_id).toBe(card.taskId);
    expect(replaced.button_list.map((b) => b.text)).toEqual(["Silence 1h", "Silence 4h"]);
    expect(JSON.stringify(replaced)).toContain("Acked by lisi");
    expect(await silencesBy("lisi")).toHaveLength(0);
  });

  it("updates a card to resolved with the send's own response_code when its group resolves", async () => {
    await fire("E2EResolveDisk");
    const card = await cardFor("E2EResolveDisk");
    await resolve("E2EResolveDisk");
    await until(() => wecom.cardUpdates().some((u) => u.taskId === card.taskId), "the resolved card update", 20_000);
    const update = wecom.cardUpdates().find((u) => u.taskId === card.taskId)!;
    expect(update.responseCode).toBe(card.responseCode);
    expect(update.replaceName).toBe("✅ Resolved");
  });

  describe.skipIf(!findChromium())("the robot's action page in a real browser", () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchBrowser();
    });
    afterAll(async () => {
      await browser?.close();
    });

    const linkIn = async (alertname: string): Promise<string> => {
      let link: string | undefined;
      await until(() => {
        const message = wecom.robotMessages("k1").find((m) => m.content.includes(alertname) && m.content.includes("silence or acknowledge:"));
        link = message && /silence or acknowledge: (\S+)/.exec(message.content)?.[1];
        return link !== undefined;
      }, `a robot message with an action link for ${alertname}`, 20_000);
      return link!;
    };

    it("opens the link from the delivered message, silences for 1h, and the silence exists", async () => {
      await fire("E2EPageDisk");
      const link = await linkIn("E2EPageDisk");
      const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
      try {
        const opened = await page.goto(link);
        expect(opened?.status()).toBe(200);
        expect(await page.textContent("body")).toContain("E2EPageDisk");
        // Opening the page (as a link preview would) changed nothing.
        expect(await silencesBy("wangwu")).toHaveLength(0);
        await page.getByLabel("Your name").fill("wangwu");
        await page.getByLabel("Note (optional)").fill("disk swap");
        await page.getByRole("button", { name: "Silence 1h" }).click();
        await page.waitForLoadState();
        expect(await page.textContent("body")).toMatch(/Silenced by wangwu until/);
      } finally {
        await page.close();
      }
      const silences = await silencesBy("wangwu");
      expect(silences).toHaveLength(1);
      expect(silences[0]!.matchers).toEqual([{ name: "alertname", value: "E2EPageDisk", isRegex: false, isEqual: true }]);
      expect(silences[0]!.comment).toContain("disk swap");
    });

    it("shows an error page for an altered link and creates nothing", async () => {
      await fire("E2EForgedDisk");
      const link = new URL(await linkIn("E2EForgedDisk"));
      const before = (await alertmanager.get<Silence[]>("/silences")).length;
      const page = await browser.newPage();
      try {
        for (const altered of [
          (() => { const u = new URL(link); u.searchParams.set("e", String(Number(u.searchParams.get("e")) + 3600)); return u; })(),
          (() => { const u = new URL(link); u.pathname = u.pathname.replace(/.$/, (c) => (c === "A" ? "B" : "A")); return u; })(),
        ]) {
          const opened = await page.goto(altered.toString());
          expect(opened?.status()).toBe(403);
          expect(await page.textContent("h1")).toBe("Invalid link");
          expect(await page.locator("form").count()).toBe(0);
        }
        // A POST straight to an altered link, as a forger would send it, changes nothing either.
        const altered = new URL(link);
        altered.searchParams.set("s", "A".repeat(43));
        const posted = await fetch(altered, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "by=mallory&duration=1h&csrf=x" });
        expect(posted.status).toBe(403);
      } finally {
        await page.close();
      }
      expect((await alertmanager.get<Silence[]>("/silences")).length).toBe(before);
      expect(await relay.metric("wecom_relay_requests_rejected_total", { source: "actions", reason: "bad_signature" })).toBeGreaterThanOrEqual(3);
    });
  });
});
