// A target that prints each message as a WeCom group robot would receive it, and sends
// nothing: the first run works with no robot at all, and a route can be tried safely.
import type { Message, SendResult } from "../types.js";
import type { Channel } from "./channel.js";
import { robotPayload } from "./wecom/robot.js";

export interface LogChannelOptions {
  /** Target name from the config, printed with each message. */
  name: string;
  /** Where the text goes; stdout by default. */
  write?: (text: string) => void;
}

/**
 * Prints the content as the chat shows its source (markdown unrendered), then the exact
 * JSON body WeCom would receive, mentions included.
 */
export function formatLogged(name: string, message: Message): string {
  const bytes = Buffer.byteLength(message.content);
  const header = `──── ${name} (log target: printed, not sent) · ${message.msgtype} · ${bytes} bytes ────`;
  return `${header}\n${message.content}\n──── body: ${JSON.stringify(robotPayload(message))}\n`;
}

export function createLogChannel(opts: LogChannelOptions): Channel {
  const write = opts.write ?? ((text: string) => process.stdout.write(text));
  return {
    kind: "robot",
    send(message: Message): Promise<SendResult> {
      write(formatLogged(opts.name, message));
      return Promise.resolve({ kind: "ok" });
    },
  };
}
