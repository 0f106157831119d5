// A WeCom self-built app (应用消息): messages to the target's users, parties and tags via
// message/send with the app's access_token. The token comes from the shared TokenCache;
// a token WeCom rejects is replaced and the send retried once here, so the dispatcher
// only sees the outcome. Neither the secret nor the token appears in an error or log text.
import { redactSecrets } from "../../redact.js";
import type { AppTargetConfig } from "../../config/schema.js";
import { logger } from "../../log.js";
import type { Metrics } from "../../metrics.js";
import type { Message, SendResult } from "../../types.js";
import type { CardUpdate, Channel, SendContext } from "../channel.js";
import { classifyErrcode, errcodeLabel } from "./errcodes.js";
import { byteLimit, TEXTCARD_TITLE_LIMIT, TEXTCARD_URL_LIMIT } from "../../wecom-limits.js";
import { postJson, wecomUrl } from "./http.js";
import type { AppCredentials, TokenCache, TokenRequester } from "./token.js";

/** Recipients WeCom reported as unknown in an accepted send (it delivered to the rest). */
export interface InvalidRecipients {
  target: string;
  users: string[];
  parties: string[];
  tags: string[];
}

export interface AppChannelOptions {
  /** Target name from the config; used in errors, logs and metric labels. */
  name: string;
  target: AppTargetConfig;
  /** Where requests go, e.g. https://qyapi.weixin.qq.com; tests and proxies change it. */
  apiBase: string;
  timeoutMs: number;
  /** One per process, shared by every app target. */
  tokens: TokenCache;
  metrics?: Metrics;
  /** Called after each accepted send that named invalid recipients. */
  onInvalidRecipients?: (report: InvalidRecipients) => void;
}

/** message/send's recipient fields: ids joined by "|", or touser "@all". */
export interface AppRecipients {
  touser?: string;
  toparty?: string;
  totag?: string;
}

/**
 * The recipient fields for a target. "@all" in any of to_user, to_party or to_tag means
 * the app's whole visible range, which WeCom spells touser "@all" (and then ignores the
 * party and tag fields). Throws when there is no recipient or an id cannot be sent.
 */
export function appRecipients(target: Pick<AppTargetConfig, "to_user" | "to_party" | "to_tag">): AppRecipients {
  const fields = { touser: target.to_user, toparty: target.to_party, totag: target.to_tag };
  const configured = Object.values(fields).filter((value) => value !== undefined);
  if (configured.length === 0) throw new Error("app target needs to_user, to_party or to_tag");
  if (configured.includes("@all")) return { touser: "@all" };

  const recipients: AppRecipients = {};
  for (const [field, ids] of Object.entries(fields) as [keyof AppRecipients, string[] | undefined][]) {
    if (ids === undefined) continue;
    if (ids.some((id) => id.includes("|"))) throw new Error(`recipient ids may not contain "|" (${field})`);
    recipients[field] = [...new Set(ids)].join("|");
  }
  return recipients;
}

export interface Textcard {
  title: string;
  description: string;
  /** Where a tap on the card leads; http(s) with scheme. */
  url: string;
  /** Button text, at most 4 characters (WeCom shows 详情 without it). */
  btntxt?: string;
}

/**
 * The message part of a textcard send, checked against WeCom's limits (title 128 bytes,
 * description 512 bytes, url 2048 bytes, button 4 characters). Throws a RangeError
 * naming the field instead of letting WeCom cut it.
 */
export function textcardMessage(card: Textcard): { msgtype: "textcard"; textcard: Textcard } {
  const bytes = (text: string) => Buffer.byteLength(text, "utf8");
  if (card.title === "" || bytes(card.title) > TEXTCARD_TITLE_LIMIT) throw new RangeError(`textcard title must be 1 to ${TEXTCARD_TITLE_LIMIT} bytes`);
  const descriptionLimit = byteLimit("app", "textcard");
  if (card.description === "" || bytes(card.description) > descriptionLimit) {
    throw new RangeError(`textcard description must be 1 to ${descriptionLimit} bytes`);
  }
  if (!/^https?:\/\//i.test(card.url) || bytes(card.url) > TEXTCARD_URL_LIMIT) {
    throw new RangeError(`textcard url must be an http(s) URL of at most ${TEXTCARD_URL_LIMIT} bytes`);
  }
  if (card.btntxt !== undefined && [...card.btntxt].length > 4) {
    throw new RangeError("textcard btntxt must be at most 4 characters");
  }
  return { msgtype: "textcard", textcard: { ...card } };
}

export function createAppChannel(opts: AppChannelOptions): Channel {
  let recipients: AppRecipients;
  try {
    recipients = appRecipients(opts.target);
  } catch (err) {
    throw new Error(`target "${opts.name}": ${(err as Error).message}`);
  }
  const credentials: AppCredentials = { apiBase: opts.apiBase, corpId: opts.target.corp_id, secret: opts.target.secret };
  const requester: TokenRequester = {
    target: opts.name,
    timeoutMs: opts.timeoutMs,
    ...(opts.metrics !== undefined && { metrics: opts.metrics }),
  };

  async function sendWith(token: string, body: Record<string, unknown>, path = "/cgi-bin/message/send", log: Record<string, unknown> = {}): Promise<SendResult> {
    const url = wecomUrl(opts.apiBase, `${path}?access_token=${encodeURIComponent(token)}`);
    const outcome = await postJson(url, body, { timeoutMs: opts.timeoutMs });
    if (!outcome.ok) return outcome.failure;
    const reply = outcome.json as Record<string, unknown> | null;
    if (typeof reply !== "object" || reply === null || typeof reply.errcode !== "number") {
      return { kind: "retry", error: "unexpected WeCom response: no numeric errcode", class: "bad_response" };
    }
    const result = classifyErrcode(reply.errcode, typeof reply.errmsg === "string" ? reply.errmsg : "");
    if (result.kind === "ok") {
      reportInvalidRecipients(reply, log);
      return typeof reply.response_code === "string" && reply.response_code !== "" ? { kind: "ok", responseCode: reply.response_code } : result;
    }
    // An errmsg that echoes the token bare would slip past the key=value redaction.
    return { ...result, error: redactSecrets(result.error, [token]) };
  }

  function reportInvalidRecipients(reply: Record<string, unknown>, log: Record<string, unknown>): void {
    const report: InvalidRecipients = {
      target: opts.name,
      users: splitIds(reply.invaliduser),
      parties: splitIds(reply.invalidparty),
      tags: splitIds(reply.invalidtag),
    };
    if (report.users.length + report.parties.length + report.tags.length === 0) return;
    // Not a failure: WeCom delivered to everyone else, and a retry would not change that.
    logger.warn("app message delivered, but WeCom reported invalid recipients", {
      target: opts.name,
      invalid_users: report.users,
      invalid_parties: report.parties,
      invalid_tags: report.tags,
      ...log,
    });
    opts.onInvalidRecipients?.(report);
  }

  return {
    kind: "app",
    async send(message: Message, context?: SendContext): Promise<SendResult> {
      const size = Buffer.byteLength(message.content, "utf8");
      const limit = byteLimit("app", message.msgtype);
      if (size > limit) {
        // The renderer splits long messages; sending this would only earn a 40058 (or a cut text).
        return {
          kind: "permanent",
          error: `${message.msgtype} content is ${size} bytes, over the ${limit}-byte limit of app messages; not sent`,
          class: "not_sent",
        };
      }
      let content: Record<string, unknown>;
      try {
        content = messageContent(message);
      } catch (err) {
        return { kind: "permanent", error: `not sent: ${(err as Error).message}`, class: "not_sent" };
      }
      // Mentions are a group-chat notion: an app message already goes to its recipients.
      return withToken({ ...recipients, agentid: opts.target.agent_id, ...content }, undefined, context?.log);
    },
    updateCard(update: CardUpdate): Promise<SendResult> {
      const body: Record<string, unknown> = {
        ...updateRecipients(recipients),
        agentid: opts.target.agent_id,
        response_code: update.responseCode,
        ...(update.card ? { template_card: update.card } : { button: { replace_name: update.replaceName ?? "" } }),
      };
      return withToken(body, "/cgi-bin/message/update_template_card");
    },
    tokenState: () => opts.tokens.state(credentials),
  };

  /** At most two calls: WeCom may revoke or expire a token early, and one fresh token settles it. */
  async function withToken(body: Record<string, unknown>, path?: string, log: Record<string, unknown> = {}): Promise<SendResult> {
    for (let attempt = 1; ; attempt += 1) {
      const token = await opts.tokens.get(credentials, requester);
      // Not an answer to this send: the message never left (the token cache counted the fetch).
      if (!token.ok) return { ...token.failure, class: "token" };
      const result = await sendWith(token.token, body, path, log);
      if (result.kind !== "refreshToken") return result;
      opts.tokens.invalidate(credentials, token.token);
      if (attempt === 2) return result;
      // Answered, and settled here by a new token: the delivery engine never sees this errcode.
      opts.metrics?.wecomErrors.inc({ target: opts.name, errcode: errcodeLabel(result.errcode) });
      logger.info("app access_token rejected; fetching a new one and sending again", {
        target: opts.name,
        errcode: result.errcode,
        ...log,
      });
    }
  }
}

/** update_template_card names its recipients differently from message/send. */
function updateRecipients(recipients: AppRecipients): Record<string, unknown> {
  if (recipients.touser === "@all") return { atall: 1 };
  return {
    ...(recipients.touser !== undefined && { userids: recipients.touser.split("|") }),
    ...(recipients.toparty !== undefined && { partyids: recipients.toparty.split("|") }),
    ...(recipients.totag !== undefined && { tagids: recipients.totag.split("|") }),
  };
}

/** The msgtype and its section of a message/send body. */
function messageContent(message: Message): Record<string, unknown> {
  if (message.msgtype === "template_card") return { msgtype: "template_card", template_card: JSON.parse(message.content) as unknown };
  if (message.msgtype !== "textcard") return { msgtype: message.msgtype, [message.msgtype]: { content: message.content } };
  if (!message.card) throw new RangeError("textcard message without a title and link");
  return textcardMessage({ title: message.card.title, description: message.content, url: message.card.url });
}

/** WeCom lists ids as "id1|id2" strings (empty when there are none). */
function splitIds(value: unknown): string[] {
  if (typeof value !== "string") return [];
  return value.split("|").filter((id) => id !== "");
}
