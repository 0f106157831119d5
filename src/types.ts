// The values that flow between stages. Stages depend on these, never on each other.

export type Source = "alertmanager" | "grafana" | "github" | "api";

/** How a template file renders: NAME.txt.hbs or NAME.md.hbs. */
export type TemplateFormat = "text" | "markdown";

/**
 * What a route sends: text, markdown, or for app targets a textcard (from the text
 * template) or an interactive card with Ack and Silence buttons (alert groups only).
 */
export type Format = TemplateFormat | "textcard" | "card";

export type Labels = Record<string, string>;

/** One notification from outside, turned into something routes can match. */
export interface Event {
  /** Names the notification: for Alertmanager, Grafana and GitHub the same content gives the same id; API messages get a new one each. */
  id: string;
  source: Source;
  /** What routes match on: always has `source`, and `status` where it applies. */
  labels: Labels;
  status?: "firing" | "resolved";
  /** What templates see: the payload plus fields derived from it. */
  data: Record<string, unknown>;
  /** One line naming what happened (every alert name); used in digests. */
  summary: string;
  /** Where to look: the alert's source graph, the pull request... (textcards link to it). */
  link?: string;
}

/** One route decision for one event (continue: true can give several). */
export interface Match {
  receiver: string;
  /** Template name without extension; defaults to the event's source. */
  template: string;
  format: Format;
  /** User ids to mention; "@all" allowed. */
  mention: string[];
  /** Human-readable path of the matched route, e.g. "route.routes[1]". */
  route: string;
}

/**
 * Where a notification's trace stands (W3C trace context): its trace id and the span that
 * received it. Stored with every message it became, so each send attempt, on any replica,
 * joins the trace and links to that span.
 */
export interface TraceRef {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** 16 lower-case hex digits. */
  spanId: string;
  sampled: boolean;
}

/** What goes out: a card route becomes a template_card, or a textcard/text where a card cannot be. */
export type MessageType = TemplateFormat | "textcard" | "template_card";

/** A rendered message for one target, already within that target's byte limit. */
export interface Message {
  target: string;
  receiver: string;
  msgtype: MessageType;
  content: string;
  /**
   * User ids to mention ("@all" allowed). Text: sent as WeCom's mentioned_list. Markdown:
   * already in the content as <@id> tokens; listed so that a digest can carry them.
   */
  mention: string[];
  /** One line for digests (see Event.summary). */
  summary: string;
  eventIds: string[];
  /** The event's labels (source, status, an alert group's common labels): what the console searches. */
  labels?: Labels;
  /** For textcards: the card's title and link; `content` is its description. */
  card?: { title: string; url: string };
  /** The alert group this message can act on; for a template_card, its task id (`content` is the card's JSON). */
  action?: { group: string; task?: string };
  /** The notification's trace (absent from digests and from rows stored before tracing existed). */
  trace?: TraceRef;
}

export type DeliveryState = "queued" | "sent" | "dead";

/** A message as the outbox holds it. */
export interface Delivery {
  id: string;
  message: Message;
  state: DeliveryState;
  attempts: number;
  /** Epoch ms. */
  createdAt: number;
  nextAttemptAt: number;
  lastError?: string;
  sentAt?: number;
}

/**
 * Where a failed send failed: the `class` label of wecom_relay_send_failures_total, a
 * closed set. A failure that carries an errcode and no class is an `errcode` one.
 */
export const FAILURE_CLASSES = [
  /** WeCom answered a non-zero errcode. */
  "errcode",
  /** An HTTP status outside 2xx, by class (a proxy, a gateway, WeCom's front end). */
  "http_4xx",
  "http_5xx",
  /** No answer within wecom.timeout. */
  "timeout",
  /** Connection refused or reset, DNS, TLS: the request did not get an answer. */
  "network",
  /** A 2xx answer that is not WeCom's JSON. */
  "bad_response",
  /** An app target has no access_token (gettoken failed, or is backing off). */
  "token",
  /** The relay refused to send it (over WeCom's limits, an unusable card). */
  "not_sent",
  /** A bug: the channel threw. */
  "internal",
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** What a channel says about one send. Errors are values, not exceptions. */
export type SendResult =
  /** Sent; an interactive card's answer carries the response_code that updates it once. */
  | { kind: "ok"; responseCode?: string }
  /** Try again; afterMs is a floor on the wait (e.g. 45009 waits for the rate window). */
  | { kind: "retry"; error: string; errcode?: number; afterMs?: number; class?: FailureClass }
  /** App token was rejected: refresh it once and retry. */
  | { kind: "refreshToken"; error: string; errcode: number }
  /** Will never succeed as it is: dead-letter now. */
  | { kind: "permanent"; error: string; errcode?: number; class?: FailureClass };
