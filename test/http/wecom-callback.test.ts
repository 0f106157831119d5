import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { encrypt, signature } from "../../src/channels/wecom/crypto.js";
import { errorHandler } from "../../src/http/errors.js";
import { wecomCallbackRouter, type CallbackCredentials } from "../../src/http/wecom-callback.js";

// Tencent's published sample (vector A in the shared WeCom reference).
const VECTOR_A: CallbackCredentials = {
  token: "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
  aesKey: "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
  corpId: "ww1436e0e65a779aee",
};
const VERIFY = {
  msg_signature: "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
  timestamp: "1476416373",
  nonce: "47744683",
  echostr: "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
};
const VERIFY_PLAINTEXT = "1288432023552776189";
const EVENT = {
  msg_signature: "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
  timestamp: "1476422779",
  nonce: "1597212914",
};
const EVENT_ENCRYPT =
  "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+";
const EVENT_PLAINTEXT =
  "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>";

const envelope = (encrypted: string) =>
  `<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><Encrypt><![CDATA[${encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>`;

// The router's clock, in epoch ms; each test sets it near the request's timestamp.
let nowMs = 0;
const events: { target: string; xml: string }[] = [];
let newRouter: () => express.Router;
let router: express.Router;
let server: Server;
let base: string;

beforeAll(async () => {
  const targets = new Map<string, CallbackCredentials>([["ops-app", VECTOR_A]]);
  const app = express();
  // A new router per test: each remembers the callbacks it acted on.
  app.use((req, res, next) => router(req, res, next));
  newRouter = () =>
    wecomCallbackRouter((target) => targets.get(target), {
      now: () => nowMs,
      onEvent: (target, xml) => {
        if (xml.includes("<Content>boom</Content>")) throw new Error("handler bug");
        events.push({ target, xml });
      },
      maxBodyBytes: 4096,
    });
  app.use(errorHandler(() => {}));
  server = app.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  events.length = 0;
  router = newRouter();
});

function url(target: string, params: Record<string, string>): string {
  return `${base}/wecom/callback/${target}?${new URLSearchParams(params).toString()}`;
}

async function errorOf(response: Response): Promise<{ status: number; body: unknown }> {
  return { status: response.status, body: await response.json() };
}

describe("GET /wecom/callback/:target (URL verification)", () => {
  beforeEach(() => {
    nowMs = Number(VERIFY.timestamp) * 1000 + 30_000;
  });

  it("answers the decrypted echostr as bare text", async () => {
    const response = await fetch(url("ops-app", VERIFY));

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await response.text()).toBe(VERIFY_PLAINTEXT);
  });

  it("accepts an echostr whose + signs arrived unescaped", async () => {
    const raw = `${base}/wecom/callback/ops-app?msg_signature=${VERIFY.msg_signature}&timestamp=${VERIFY.timestamp}&nonce=${VERIFY.nonce}&echostr=${VERIFY.echostr}`;
    const response = await fetch(raw);
    expect(await response.text()).toBe(VERIFY_PLAINTEXT);
  });

  it.each([
    ["a wrong signature", { ...VERIFY, msg_signature: "0".repeat(40) }, "invalid msg_signature"],
    ["a signature over another nonce", { ...VERIFY, nonce: "47744684" }, "invalid msg_signature"],
    ["no signature", { timestamp: VERIFY.timestamp, nonce: VERIFY.nonce, echostr: VERIFY.echostr }, "missing msg_signature"],
  ])("refuses %s with 401", async (_label, params, error) => {
    expect(await errorOf(await fetch(url("ops-app", params)))).toEqual({ status: 401, body: { error } });
  });

  it("refuses a correctly signed request with a stale timestamp with 401", async () => {
    nowMs = Number(VERIFY.timestamp) * 1000 + 301_000;
    expect(await errorOf(await fetch(url("ops-app", VERIFY)))).toEqual({
      status: 401,
      body: { error: "stale timestamp", detail: { timestamp: VERIFY.timestamp, max_skew_seconds: 300 } },
    });
  });

  it("refuses a timestamp from too far in the future too", async () => {
    nowMs = Number(VERIFY.timestamp) * 1000 - 301_000;
    expect((await fetch(url("ops-app", VERIFY))).status).toBe(401);
  });

  it("answers 404 for a target without a callback", async () => {
    expect(await errorOf(await fetch(url("no-such-app", VERIFY)))).toEqual({
      status: 404,
      body: { error: "no WeCom callback configured for this target", detail: { target: "no-such-app" } },
    });
  });

  it.each([
    ["no echostr", "echostr"],
    ["no timestamp", "timestamp"],
    ["no nonce", "nonce"],
  ])("answers 400 for %s", async (_label, parameter) => {
    const params: Record<string, string> = { ...VERIFY };
    delete params[parameter];
    expect(await errorOf(await fetch(url("ops-app", params)))).toEqual({
      status: 400,
      body: { error: "missing or malformed query parameter", detail: { parameter } },
    });
  });

  it("answers 400 for a signed echostr that does not decrypt", async () => {
    const echostr = Buffer.alloc(48, 1).toString("base64");
    const fields = { token: VECTOR_A.token, timestamp: VERIFY.timestamp, nonce: VERIFY.nonce, encrypted: echostr };
    const response = await fetch(url("ops-app", { ...VERIFY, echostr, msg_signature: signature(fields) }));
    expect(await errorOf(response)).toEqual({ status: 400, body: { error: "cannot decrypt callback", detail: { reason: "padding" } } });
  });
});

describe("POST /wecom/callback/:target (events)", () => {
  beforeEach(() => {
    nowMs = Number(EVENT.timestamp) * 1000;
  });

  const post = (body: string, params: Record<string, string> = EVENT, target = "ops-app") =>
    fetch(url(target, params), { method: "POST", headers: { "content-type": "text/xml" }, body });

  it("hands the decrypted event to onEvent and answers an empty 200", async () => {
    const response = await post(envelope(EVENT_ENCRYPT));

    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
    expect(events).toEqual([{ target: "ops-app", xml: EVENT_PLAINTEXT }]);
  });

  it("acts once on a callback replayed within its window (WeCom's retries, or a captured request)", async () => {
    for (let i = 0; i < 3; i++) expect((await post(envelope(EVENT_ENCRYPT))).status).toBe(200);
    expect(events).toHaveLength(1);
  });

  it("reads an <Encrypt> without CDATA and with surrounding whitespace", async () => {
    const response = await post(`\n<xml>\n  <ToUserName>ww1436e0e65a779aee</ToUserName>\n  <Encrypt>${EVENT_ENCRYPT}</Encrypt>\n</xml>\n`);
    expect(response.status).toBe(200);
    expect(events).toHaveLength(1);
  });

  it("refuses a wrong signature with 401 and hands nothing on", async () => {
    const response = await post(envelope(EVENT_ENCRYPT), { ...EVENT, msg_signature: "f".repeat(40) });
    expect(await errorOf(response)).toEqual({ status: 401, body: { error: "invalid msg_signature" } });
    expect(events).toEqual([]);
  });

  it("refuses a stale timestamp with 401", async () => {
    nowMs = Number(EVENT.timestamp) * 1000 + 3_600_000;
    const response = await post(envelope(EVENT_ENCRYPT));
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toBe("stale timestamp");
  });

  it("answers 404 for an unknown target", async () => {
    expect((await post(envelope(EVENT_ENCRYPT), EVENT, "unknown")).status).toBe(404);
  });

  it.each([
    ["an empty body", ""],
    ["JSON", JSON.stringify({ Encrypt: EVENT_ENCRYPT })],
    ["an envelope without <Encrypt>", "<xml><ToUserName>x</ToUserName></xml>"],
    ["two <Encrypt> elements", `<xml><Encrypt>${EVENT_ENCRYPT}</Encrypt><Encrypt>${EVENT_ENCRYPT}</Encrypt></xml>`],
    ["an empty <Encrypt>", "<xml><Encrypt><![CDATA[]]></Encrypt></xml>"],
  ])("answers 400 for %s", async (_label, body) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("malformed callback body");
  });

  it("answers 413 for a body over the limit", async () => {
    expect((await post(`<xml><Encrypt>${"A".repeat(8192)}</Encrypt></xml>`)).status).toBe(413);
  });

  it("answers 400 for a signed message addressed to another corp", async () => {
    const encrypted = encrypt(VECTOR_A.aesKey, "<xml><Content>hi</Content></xml>", "ww-another-corp");
    const fields = { token: VECTOR_A.token, timestamp: EVENT.timestamp, nonce: EVENT.nonce, encrypted };
    const response = await post(envelope(encrypted), { ...EVENT, msg_signature: signature(fields) });
    expect(await errorOf(response)).toEqual({ status: 400, body: { error: "cannot decrypt callback", detail: { reason: "receive_id" } } });
    expect(events).toEqual([]);
  });

  it("still answers 200 when the event handler throws, so WeCom does not resend", async () => {
    const encrypted = encrypt(VECTOR_A.aesKey, "<xml><Content>boom</Content></xml>", VECTOR_A.corpId);
    const fields = { token: VECTOR_A.token, timestamp: EVENT.timestamp, nonce: EVENT.nonce, encrypted };
    const response = await post(envelope(encrypted), { ...EVENT, msg_signature: signature(fields) });
    expect(response.status).toBe(200);
  });

  it("round-trips an event encrypted and signed the way WeCom does it", async () => {
    const xml = "<xml><MsgType>event</MsgType><Event>template_card_event</Event><EventKey>ack:7f3c</EventKey></xml>";
    const encrypted = encrypt(VECTOR_A.aesKey, xml, VECTOR_A.corpId);
    const params = { timestamp: EVENT.timestamp, nonce: "99" };
    const msg_signature = signature({ token: VECTOR_A.token, ...params, encrypted });
    expect((await post(envelope(encrypted), { ...params, msg_signature })).status).toBe(200);
    expect(events).toEqual([{ target: "ops-app", xml }]);
  });
});
