// A WeCom group robot: one webhook key, text or markdown messages.
// The key is the robot's only credential, so it never appears in an error or log text.
import type { Message, SendResult } from "../../types.js";
import type { Channel } from "../channel.js";
import { classifyErrcode } from "./errcodes.js";
import { robotKey } from "../../config/robot-webhook.js";
import { postJson, wecomUrl } from "./http.js";

export interface RobotChannelOptions {
  /** Target name from the config; used in configuration errors. */
  name: string;
  /** A full webhook URL (`...webhook/send?key=KEY`) or just the key. */
  webhook: string;
  /** Where a bare key's requests go, e.g. https://qyapi.weixin.qq.com. */
  apiBase: string;
  timeoutMs: number;
}

/**
 * Where a robot's messages go: a full webhook URL as written, host included (an
 * enterprise egress proxy, a local fake); a bare key under the API base. Throws on an
 * unusable value, without repeating it.
 */
export function robotEndpoint(webhook: string, apiBase: string): string {
  const key = robotKey(webhook);
  const value = webhook.trim();
  if (value !== key) return value;
  return wecomUrl(apiBase, `/cgi-bin/webhook/send?key=${encodeURIComponent(key)}`);
}

export function createRobotChannel(opts: RobotChannelOptions): Channel {
  let endpoint: string;
  try {
    endpoint = robotEndpoint(opts.webhook, opts.apiBase);
  } catch (err) {
    throw new Error(`target "${opts.name}": ${(err as Error).message}`);
  }

  return {
    kind: "robot",
    async send(message: Message): Promise<SendResult> {
      const outcome = await postJson(endpoint, robotPayload(message), { timeoutMs: opts.timeoutMs });
      if (!outcome.ok) return outcome.failure;
      const reply = outcome.json as { errcode?: unknown; errmsg?: unknown } | null;
      if (typeof reply !== "object" || reply === null || typeof reply.errcode !== "number") {
        return { kind: "retry", error: "unexpected WeCom response: no numeric errcode", class: "bad_response" };
      }
      const result = classifyErrcode(reply.errcode, typeof reply.errmsg === "string" ? reply.errmsg : "");
      // A robot has no token to refresh: a token complaint cannot fix itself.
      if (result.kind === "refreshToken") return { kind: "permanent", error: result.error, errcode: result.errcode };
      return result;
    },
  };
}

/** The JSON body WeCom receives for one robot message. */
export function robotPayload(message: Message): Record<string, unknown> {
  if (message.msgtype === "markdown") {
    // Robot markdown ignores mentioned_list; mentions live in the content as <@userid>.
    return { msgtype: "markdown", markdown: { content: message.content } };
  }
  const text: Record<string, unknown> = { content: message.content };
  if (message.mention.length > 0) text.mentioned_list = [...message.mention];
  return { msgtype: "text", text };
}
