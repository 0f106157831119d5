// WeCom's message size limits, in bytes of UTF-8 (see reference/wecom.md).

export type ChannelKind = "robot" | "app";

const LIMITS: Record<ChannelKind, Record<"text" | "markdown", number>> = {
  robot: { text: 2048, markdown: 4096 },
  // App markdown is half the robot's.
  app: { text: 2048, markdown: 2048 },
};

export function byteLimit(kind: ChannelKind, msgtype: "text" | "markdown"): number {
  return LIMITS[kind][msgtype];
}
