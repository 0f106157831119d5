// WeCom's message size limits, in bytes of UTF-8 (WeCom's message API documentation:
// robot text 2048, robot markdown 4096, app text and markdown 2048, textcard parts below).

import type { MessageType } from "./types.js";

export type ChannelKind = "robot" | "app";

const LIMITS: Record<ChannelKind, Record<MessageType, number>> = {
  // Robots have no textcard: a textcard route sends them text.
  robot: { text: 2048, markdown: 4096, textcard: 2048, template_card: 2048 },
  // App markdown is half the robot's; a textcard's description holds 512 bytes. A
  // template_card is JSON whose every field the card builder keeps within its own limit.
  app: { text: 2048, markdown: 2048, textcard: 512, template_card: 8192 },
};

/** A textcard's title and link, in bytes. */
export const TEXTCARD_TITLE_LIMIT = 128;
export const TEXTCARD_URL_LIMIT = 2048;

export function byteLimit(kind: ChannelKind, msgtype: MessageType): number {
  return LIMITS[kind][msgtype];
}
