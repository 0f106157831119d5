import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encrypt, signature } from "../../src/channels/wecom/crypto.js";
import { DEFAULT_FAKE_APP, startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { startRelay, type RunningRelay } from "../support/relay.js";
import { until } from "../support/wait.js";

const CALLBACK_TOKEN = "cb-token-hJqcu3uJ9Tn2";
const AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";

function appConfig(apiBase: string, secret: string = DEFAULT_FAKE_APP.secret): string {
  return `
wecom: { api_base: "${apiBase}", timeout: 2s }
delivery: { retry_initial: 50ms, retry_max: 200ms }
targets:
  ops-app:
    type: app
    corp_id: ${DEFAULT_FAKE_APP.corpId}
    secret: ${secret}
    agent_id: ${DEFAULT_FAKE_APP.agentId}
    to_user: [zhangsan, lisi]
    to_party: ["2"]
    rate_limit: { max: 100, per: 1s }
    callback: { token: ${CALLBACK_TOKEN}, aes_key: ${AES_KEY} }
receivers:
  - { name: ops, targets: [ops-app] }
route: { receiver: ops }
`;
}

describe("app message targets through the relay", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;

  beforeEach(async () => {
    wecom = await startFakeWeCom();
  });
  afterEach(async () => {
    await relay.close();
    await wecom.close();
  });

  it("delivers an alert as an app markdown message to the configured users and party", async () => {
    relay = await startRelay(appConfig(wecom.url));
    expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "AppAlert" }]))).status).toBe(200);
    const [message] = await wecom.waitForAppMessages(1);
    expect(message!.msgtype).toBe("markdown");
    expect(message!.content).toContain("AppAlert");
    expect(message!.touser).toEqual(["zhangsan", "lisi"]);
    expect(message!.toparty).toEqual(["2"]);
    expect(await relay.metric("wecom_relay_token_refreshes_total", { target: "ops-app", result: "success" })).toBe(1);
    // The token in hand and when it expires (the fake issues 2 h tokens); no fetch backoff.
    const expiry = await relay.metric("wecom_relay_app_token_expiry_timestamp_seconds", { target: "ops-app" });
    expect(expiry - Date.now() / 1000).toBeGreaterThan(7100);
    expect(expiry - Date.now() / 1000).toBeLessThanOrEqual(7200);
    expect(await relay.metric("wecom_relay_app_token_backoff_until_timestamp_seconds", { target: "ops-app" })).toBe(0);
  });

  it("sends a textcard that opens the alert's source graph when the route's format is textcard", async () => {
    relay = await startRelay(appConfig(wecom.url).replace("route: { receiver: ops }", "route: { receiver: ops, format: textcard }"));
    await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "CardAlert", summary: "card summary" }]));
    const [message] = await wecom.waitForAppMessages(1);
    expect(message!.msgtype).toBe("textcard");
    const textcard = message!.body.textcard as { title: string; description: string; url: string };
    expect(textcard.title).toContain("CardAlert");
    expect(textcard.description).toContain("card summary");
    expect(textcard.url).toBe("http://prometheus:9090/graph?g0.expr=up");
    expect(Buffer.byteLength(textcard.description)).toBeLessThanOrEqual(512);
  });

  it("splits an app message at 2048 bytes, half a robot's markdown limit", async () => {
    relay = await startRelay(appConfig(wecom.url));
    const alerts = Array.from({ length: 30 }, (_, i) => ({ name: `Big${i}`, summary: "磁盘".repeat(40) }));
    await relay.post("/webhook/alertmanager", alertmanagerPayload(alerts));
    const all = () => wecom.appMessages().map((m) => m.content).join("\n");
    const names = Array.from({ length: 30 }, (_, i) => `Big${i}\\b`);
    const missing = () => names.filter((name) => !new RegExp(name).test(all()));
    await until(() => missing().length === 0, () => `missing ${missing().join(", ")} in ${wecom.appMessages().length} parts`, 10_000);
    expect(wecom.appMessages().length).toBeGreaterThan(2);
    for (const message of wecom.appMessages()) expect(Buffer.byteLength(message.content)).toBeLessThanOrEqual(2048);
  });

  it("dead-letters with a clear error when the app secret is wrong, without revealing it", async () => {
    const secret = "wrong-secret-value-123456";
    relay = await startRelay(appConfig(wecom.url, secret));
    const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "NoToken" }]));
    const { id } = (await res.json()) as { id: string };
    const status = async () => (await (await fetch(`${relay.url}/api/v1/messages/${id}`)).json()) as { state: string; last_error?: string };
    await expect.poll(async () => (await status()).state, { timeout: 5000 }).toBe("failed");
    const { last_error } = await status();
    expect(last_error).toContain("invalid corp secret");
    expect(last_error).not.toContain(secret);
    // gettoken's answer is WeCom's errcode for this target; the send failed for want of a token.
    expect(await relay.metric("wecom_relay_token_refreshes_total", { target: "ops-app", result: "failure" })).toBe(1);
    expect(await relay.metric("wecom_relay_wecom_errors_total", { target: "ops-app", errcode: "40001" })).toBe(1);
    expect(await relay.metric("wecom_relay_send_failures_total", { target: "ops-app", class: "token" })).toBe(1);
    expect(await relay.metric("wecom_relay_send_failures_total", { target: "ops-app", class: "errcode" })).toBe(0);
    expect(await relay.metric("wecom_relay_dead_letters_total", { target: "ops-app", reason: "errcode_40001" })).toBe(1);
    expect(await relay.metric("wecom_relay_app_token_expiry_timestamp_seconds", { target: "ops-app" })).toBe(0);
    // A wrong secret is not asked about again for a while (5 s, doubling).
    expect(await relay.metric("wecom_relay_app_token_backoff_until_timestamp_seconds", { target: "ops-app" })).toBeGreaterThan(Date.now() / 1000);
  });

  it("answers WeCom's callback URL verification with the decrypted echostr", async () => {
    relay = await startRelay(appConfig(wecom.url));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = "1597212914";
    const echostr = encrypt(AES_KEY, "8675309-verify", DEFAULT_FAKE_APP.corpId);
    const msgSignature = signature({ token: CALLBACK_TOKEN, timestamp, nonce, encrypted: echostr });
    const query = new URLSearchParams({ msg_signature: msgSignature, timestamp, nonce, echostr });
    const ok = await fetch(`${relay.url}/wecom/callback/ops-app?${query}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("8675309-verify");

    query.set("msg_signature", "0".repeat(40));
    const bad = await fetch(`${relay.url}/wecom/callback/ops-app?${query}`);
    expect(bad.status).toBe(401);
    expect((await fetch(`${relay.url}/wecom/callback/nope?${query}`)).status).toBe(404);
  });

  it("accepts an encrypted callback event and counts it", async () => {
    relay = await startRelay(appConfig(wecom.url));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = "4711";
    const event = `<xml><ToUserName><![CDATA[${DEFAULT_FAKE_APP.corpId}]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ack]]></Content></xml>`;
    const encrypted = encrypt(AES_KEY, event, DEFAULT_FAKE_APP.corpId);
    const msgSignature = signature({ token: CALLBACK_TOKEN, timestamp, nonce, encrypted });
    const res = await fetch(`${relay.url}/wecom/callback/ops-app?${new URLSearchParams({ msg_signature: msgSignature, timestamp, nonce })}`, {
      method: "POST",
      headers: { "content-type": "text/xml" },
      body: `<xml><ToUserName><![CDATA[${DEFAULT_FAKE_APP.corpId}]]></ToUserName><Encrypt><![CDATA[${encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>`,
    });
    expect(res.status).toBe(200);
    expect(await relay.metric("wecom_relay_callback_events_total", { target: "ops-app" })).toBe(1);
  });
});
