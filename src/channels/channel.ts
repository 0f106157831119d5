// What the dispatcher sends through: one physical WeCom destination (a group robot or
// an app's recipients). A channel never throws for a failed send; it classifies it.
import type { Message, SendResult } from "../types.js";

export interface Channel {
  readonly kind: "robot" | "app";
  send(message: Message): Promise<SendResult>;
}
