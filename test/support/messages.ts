import type { Message } from "../../src/types.js";

export function message(overrides: Partial<Message> = {}): Message {
  return {
    target: "robot-a",
    receiver: "sre",
    msgtype: "markdown",
    content: "**FIRING** HighLatency",
    mention: [],
    summary: "[FIRING:1] HighLatency",
    eventIds: ["alertmanager-0001"],
    ...overrides,
  };
}
