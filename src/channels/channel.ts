// What the dispatcher sends through: one physical WeCom destination (a group robot or
// an app's recipients). A channel never throws for a failed send; it classifies it.
import type { Message, SendResult } from "../types.js";

/** A change to a sent template_card: its buttons greyed out with new text, or a whole new card. */
export interface CardUpdate {
  /** From the send's answer or a click's callback; WeCom takes each once. */
  responseCode: string;
  replaceName?: string;
  card?: Record<string, unknown>;
}

/** What a send is part of: the fields its log lines carry (trace, span, delivery ids). */
export interface SendContext {
  log: Record<string, unknown>;
}

/** An app's access_token as the relay holds it, in epoch ms (0: none). */
export interface TokenState {
  /** When the token in hand expires; 0 while there is none. */
  expiresAt: number;
  /** No gettoken is tried before this (a failed fetch backs off); 0 when not backing off. */
  backoffUntil: number;
}

export interface Channel {
  readonly kind: "robot" | "app";
  send(message: Message, context?: SendContext): Promise<SendResult>;
  /** App channels only: updates a sent card for every recipient of the target. */
  updateCard?(update: CardUpdate): Promise<SendResult>;
  /** App channels only: the access_token's state, for the token gauges. */
  tokenState?(): TokenState;
}
