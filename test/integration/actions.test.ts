// Actions on alert groups when things go wrong: Alertmanager failing, unknown cards and
// buttons, resolved groups, stale or forged action pages, missing CSRF tokens; plus
// Grafana-managed alerts silenced through Grafana's API. Alertmanager and Grafana are
// single HTTP exchanges here (nock); the real Alertmanager runs in test/e2e/actions.test.ts.
import nock from "nock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signActionLink } from "../../src/actions/signed-link.js";
import { cardClickCallback, postCallback } from "../support/card-click.js";
import { DEFAULT_FAKE_APP, startFakeWeCom, type FakeWeCom, type RecordedAppMessage } from "../support/fake-wecom.js";
import { grafanaPayload } from "../support/grafana-payloads.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { startRelay, type RunningRelay } from "../support/relay.js";
import { until } from "../support/wait.js";

const CALLBACK_TOKEN = "cb-token-hJqcu3uJ9Tn2";
const AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const ACTION_SECRET = "action-secret-0123456789abcdef";
const AM = "http://alertmanager.test:9093";
const AM_TOKEN = "am-api-token-0123456789";
const GRAFANA = "http://grafana.test:3000";
const GRAFANA_TOKEN = "glsa_grafana-token-0123456789";
const APP = { corpId: DEFAULT_FAKE_APP.corpId, agentId: DEFAULT_FAKE_APP.agentId, token: CALLBACK_TOKEN, aesKey: AES_KEY };
const SILENCE_ID = "7f2c1e5a-1b2c-4d3e-8f9a-0b1c2d3e4f5a";

function config(wecomUrl: string): string {
  return `
wecom: { api_base: "${wecomUrl}", timeout: 2s }
delivery: { retry_initial: 50ms, retry_max: 200ms }
alertmanager: { url: "${AM}", bearer_token: ${AM_TOKEN}, timeout: 2s }
grafana: { url: "${GRAFANA}", token: ${GRAFANA_TOKEN}, timeout: 2s }
actions: { public_url: "https://relay.example.com", secret: ${ACTION_SECRET}, silence_for: [1h, 4h] }
targets:
  oncall-app:
    type: app
    corp_id: ${DEFAULT_FAKE_APP.corpId}
    secret: ${DEFAULT_FAKE_APP.secret}
    agent_id: ${DEFAULT_FAKE_APP.agentId}
    to_user: [zhangsan]
    rate_limit: { max: 100, per: 1s }
    callback: { token: ${CALLBACK_TOKEN}, aes_key: ${AES_KEY} }
receivers:
  - name: oncall
    targets: [oncall-app]
route:
  receiver: oncall
  format: card
`;
}

describe("actions on alert groups, failure paths", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;

  beforeAll(async () => {
    wecom = await startFakeWeCom();
    relay = await startRelay(config(wecom.url));
  });
  afterAll(async () => {
    await relay?.close();
    await wecom?.close();
  });
  beforeEach(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  let alertCount = 0;
  /** Fires a new alert group and returns its card once the relay recorded it. */
  async function newCard(): Promise<{ card: RecordedAppMessage; name: string }> {
    const name = `Fail${++alertCount}`;
    expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name }]))).status).toBe(200);
    let card: RecordedAppMessage | undefined;
    await until(() => (card = wecom.appMessages().find((m) => m.msgtype === "template_card" && JSON.stringify(m.body).includes(name))) !== undefined, `a card for ${name}`);
    await until(async () => (await relay.service.store.actions.card(card!.taskId!)) !== undefined, "the card recorded");
    return { card: card!, name };
  }

  const click = (taskId: string, eventKey: string, user = "zhangsan", responseCode = wecom.clickResponseCode(taskId)) =>
    postCallback(`${relay.url}/wecom/callback/oncall-app`, cardClickCallback(APP, { taskId, eventKey, user, responseCode }));

  const actionsOf = async () => ((await (await fetch(`${relay.url}/api/v1/actions`)).json()) as { actions: { action: string; by: string; result: string; detail?: string; group: string }[] }).actions;

  it("records a silence Alertmanager refused as failed, leaves the card as it was, and never shows the token", async () => {
    const { card } = await newCard();
    const refused = nock(AM)
      .post("/api/v2/silences")
      .matchHeader("authorization", `Bearer ${AM_TOKEN}`)
      .reply(500, `internal error, token ${AM_TOKEN} rejected`);
    const updatesBefore = wecom.cardUpdates().length;
    expect((await click(card.taskId!, "silence:1h", "failuser")).status).toBe(200);
    await until(async () => (await actionsOf()).some((a) => a.by === "failuser" && a.result === "failed"), "the failed action");
    expect(refused.isDone()).toBe(true);
    const failed = (await actionsOf()).find((a) => a.by === "failuser")!;
    expect(failed.detail).toContain("500");
    expect(failed.detail).not.toContain(AM_TOKEN);
    expect(wecom.cardUpdates().length).toBe(updatesBefore);
    expect(await relay.metric("wecom_relay_actions_total", { action: "silence", result: "failed" })).toBe(1);
  });

  it("refuses a click on a card or button it did not make, and counts it", async () => {
    const { card } = await newCard();
    const before = await relay.metric("wecom_relay_actions_total", { result: "refused" });
    expect((await click("not-a-card-of-ours", "ack", "zhangsan", "code-of-no-card")).status).toBe(200);
    expect((await click(card.taskId!, "reboot-everything")).status).toBe(200);
    expect((await click(card.taskId!, "silence:99d")).status).toBe(200);
    await until(async () => (await relay.metric("wecom_relay_actions_total", { result: "refused" })) === before + 3, "three refusals");
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("answers a click on a resolved group's card by marking the card resolved, silencing nothing", async () => {
    const { card, name } = await newCard();
    expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name, status: "resolved" }]))).status).toBe(200);
    // The resolve itself updates the card with the send's code; the click uses its own.
    await until(() => wecom.cardUpdates().some((u) => u.taskId === card.taskId), "the resolved update");
    expect((await click(card.taskId!, "silence:1h", "lateuser")).status).toBe(200);
    await until(async () => (await actionsOf()).some((a) => a.by === "lateuser" && a.result === "refused"), "the refused click");
    expect(wecom.cardUpdates().filter((u) => u.taskId === card.taskId).map((u) => u.replaceName)).toEqual(["✅ Resolved", "✅ Resolved"]);
  });

  describe("the action page", () => {
    const linkFor = (groupId: string, expiresAt = Date.now() + 3_600_000) =>
      signActionLink({ publicUrl: relay.url, secret: ACTION_SECRET, groupId, expiresAt });
    const groupOf = async (name: string) => {
      const card = wecom.appMessages().find((m) => m.msgtype === "template_card" && JSON.stringify(m.body).includes(name))!;
      return (await relay.service.store.actions.card(card.taskId!))!.group;
    };
    /** GETs the page like a browser: the form token from the page, the cookie from the answer. */
    async function openPage(link: string) {
      const res = await fetch(link);
      const html = await res.text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
      const cookie = res.headers.get("set-cookie")?.split(";")[0];
      return { res, html, csrf, cookie };
    }
    const submit = (link: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(link, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(form).toString() });

    it("silences, then unsilences, through Alertmanager; each answered with a page", async () => {
      const { name } = await newCard();
      const link = linkFor(await groupOf(name));
      const page = await openPage(link);
      expect(page.res.status).toBe(200);
      expect(page.res.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(page.html).toContain(name);
      const created = nock(AM)
        .post("/api/v2/silences", (body: { matchers: unknown[]; createdBy: string; comment: string }) =>
          JSON.stringify(body.matchers) === JSON.stringify([{ name: "alertname", value: name, isRegex: false, isEqual: true }]) && body.createdBy === "pageuser" && body.comment.includes("maintenance"),
        )
        .reply(200, { silenceID: SILENCE_ID });
      const silenced = await submit(link, { csrf: page.csrf!, by: "pageuser", note: "maintenance", duration: "4h" }, { cookie: page.cookie! });
      expect(silenced.status).toBe(200);
      expect(await silenced.text()).toMatch(/Silenced by pageuser until/);
      expect(created.isDone()).toBe(true);

      // The same form sent again (a double tap) does nothing more.
      const again = await submit(link, { csrf: page.csrf!, by: "pageuser", duration: "4h" }, { cookie: page.cookie! });
      expect(await again.text()).toContain("already done");

      const reopened = await openPage(link);
      expect(reopened.html).toContain("Unsilence");
      const expired = nock(AM).delete(`/api/v2/silence/${SILENCE_ID}`).reply(200);
      const unsilenced = await submit(link, { csrf: reopened.csrf!, by: "pageuser", action: "unsilence" }, { cookie: reopened.cookie! });
      expect(unsilenced.status).toBe(200);
      expect(expired.isDone()).toBe(true);
      const none = await openPage(link);
      const noneAgain = await submit(link, { csrf: none.csrf!, by: "pageuser", action: "unsilence" }, { cookie: none.cookie! });
      expect(noneAgain.status).toBe(409);
    });

    it("refuses a POST without the page's token (cross-site form), a wrong content type, and a missing name", async () => {
      const { name } = await newCard();
      const link = linkFor(await groupOf(name));
      const page = await openPage(link);
      expect((await submit(link, { csrf: page.csrf!, by: "x", duration: "1h" })).status).toBe(403); // no cookie
      expect((await submit(link, { csrf: "forged", by: "x", duration: "1h" }, { cookie: page.cookie! })).status).toBe(403);
      expect((await fetch(link, { method: "POST", headers: { "content-type": "application/json", cookie: page.cookie! }, body: "{}" })).status).toBe(415);
      expect((await submit(link, { csrf: page.csrf!, by: " ", duration: "1h" }, { cookie: page.cookie! })).status).toBe(400);
      expect((await submit(link, { csrf: page.csrf!, by: "x", duration: "7d" }, { cookie: page.cookie! })).status).toBe(400);
      expect(nock.pendingMocks()).toEqual([]);
    });

    it("answers expired, resolved and unknown groups with a clear page", async () => {
      const { name } = await newCard();
      const group = await groupOf(name);
      const stale = await fetch(linkFor(group, Date.now() - 1000));
      expect(stale.status).toBe(410);
      expect(await stale.text()).toContain("Link expired");
      expect(await relay.metric("wecom_relay_requests_rejected_total", { source: "actions", reason: "stale_signature" })).toBeGreaterThanOrEqual(1);

      const unknown = await fetch(linkFor("gUnknownGroup0000000000"));
      expect(unknown.status).toBe(404);

      expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name, status: "resolved" }]))).status).toBe(200);
      const resolved = await fetch(linkFor(group));
      expect(resolved.status).toBe(410);
      expect(await resolved.text()).toContain("resolved");
    });
  });

  it("silences a Grafana-managed alert through Grafana's Alertmanager API", async () => {
    expect((await relay.post("/webhook/grafana", grafanaPayload([{ name: "GrafanaDisk" }]))).status).toBe(200);
    let card: RecordedAppMessage | undefined;
    await until(() => (card = wecom.appMessages().find((m) => m.msgtype === "template_card" && JSON.stringify(m.body).includes("GrafanaDisk"))) !== undefined, "the Grafana card");
    await until(async () => (await relay.service.store.actions.card(card!.taskId!)) !== undefined, "the card recorded");
    const created = nock(GRAFANA)
      .post("/api/alertmanager/grafana/api/v2/silences")
      .matchHeader("authorization", `Bearer ${GRAFANA_TOKEN}`)
      .reply(202, { silenceID: SILENCE_ID });
    expect((await click(card!.taskId!, "silence:1h", "grafanauser")).status).toBe(200);
    await until(() => created.isDone(), "the silence posted to Grafana");
    await until(async () => (await actionsOf()).some((a) => a.by === "grafanauser" && a.result === "ok"), "the action recorded");
  });
});
