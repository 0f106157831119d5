// A template_card button click as WeCom reports it: the event XML encrypted and signed
// with WeCom's published callback crypto, ready to post to the relay's callback URL.
import { randomBytes } from "node:crypto";
import { encrypt, signature } from "../../src/channels/wecom/crypto.js";

export interface CallbackApp {
  corpId: string;
  agentId: number;
  token: string;
  aesKey: string;
}

export interface Click {
  taskId: string;
  eventKey: string;
  responseCode: string;
  user?: string;
  /** Seconds; WeCom's retries of one click carry the same. */
  createTime?: number;
}

/** The click's signed query and body; each call makes a new envelope (nonce, signature), as WeCom's retries do. */
export function cardClickCallback(app: CallbackApp, click: Click): { query: URLSearchParams; body: string } {
  const xml =
    `<xml><ToUserName><![CDATA[${app.corpId}]]></ToUserName><FromUserName><![CDATA[${click.user ?? "zhangsan"}]]></FromUserName>` +
    `<CreateTime>${click.createTime ?? Math.floor(Date.now() / 1000)}</CreateTime><MsgType><![CDATA[event]]></MsgType>` +
    `<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[${click.eventKey}]]></EventKey><TaskId><![CDATA[${click.taskId}]]></TaskId>` +
    `<CardType><![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[${click.responseCode}]]></ResponseCode>` +
    `<AgentID>${app.agentId}</AgentID></xml>`;
  const encrypted = encrypt(app.aesKey, xml, app.corpId);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(4).toString("hex");
  const query = new URLSearchParams({ msg_signature: signature({ token: app.token, timestamp, nonce, encrypted }), timestamp, nonce });
  const body = `<xml><ToUserName><![CDATA[${app.corpId}]]></ToUserName><Encrypt><![CDATA[${encrypted}]]></Encrypt><AgentID><![CDATA[${app.agentId}]]></AgentID></xml>`;
  return { query, body };
}

export function postCallback(url: string, callback: { query: URLSearchParams; body: string }, query = callback.query): Promise<Response> {
  return fetch(`${url}?${query}`, { method: "POST", headers: { "content-type": "text/xml" }, body: callback.body });
}
