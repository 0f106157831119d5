// The interactive card of an alert group: what it says and which buttons it carries in
// each state (firing, acknowledged). Button keys name the action only: the callback's
// TaskId already names the card, and through it the group.
import { buttonInteractionCard, type CardBuild, type CardButton } from "../channels/wecom/template-card.js";
import type { ActionGroup } from "./group.js";

export interface CardOptions {
  taskId: string;
  /** Silence lengths offered, by their labels ("1h"). */
  silenceFor: readonly string[];
  /** The group's action page (signed link), else its source link. */
  url?: string;
  /** Shown under the title, e.g. "Acked by zhangsan". */
  note?: string;
  /** False once someone acknowledged: the Ack button goes. */
  withAck?: boolean;
}

export const ACK_KEY = "ack";
const SILENCE_PREFIX = "silence:";

export type ButtonAction = { action: "ack" } | { action: "silence"; length: string };

/** What a clicked button's key asks for; undefined for a key this relay did not make. */
export function buttonAction(key: string): ButtonAction | undefined {
  if (key === ACK_KEY) return { action: "ack" };
  if (key.startsWith(SILENCE_PREFIX) && key.length > SILENCE_PREFIX.length) return { action: "silence", length: key.slice(SILENCE_PREFIX.length) };
  return undefined;
}

/** The labels the card shows: what the silence matches first, then the first alert's other labels. */
function keyLabels(group: ActionGroup): [string, string][] {
  const shown = new Map<string, string>(Object.entries(group.matchers));
  for (const [name, value] of Object.entries(group.alerts[0]?.labels ?? {})) {
    if (!shown.has(name) && name !== "alertname") shown.set(name, value);
  }
  return [...shown].slice(0, 6);
}

export function alertCard(group: ActionGroup, options: CardOptions): CardBuild {
  const first = group.alerts[0];
  const severity = first?.labels.severity;
  const buttons: CardButton[] = [
    ...(options.withAck === false ? [] : [{ text: "Ack", key: ACK_KEY, style: 1 as const }]),
    ...options.silenceFor.map((length) => ({ text: `Silence ${length}`, key: `${SILENCE_PREFIX}${length}`, style: 2 as const })),
  ];
  return buttonInteractionCard({
    taskId: options.taskId,
    title: `${group.status === "firing" ? "🔴" : "✅"} ${group.title}`,
    ...(severity !== undefined && { description: `severity ${severity}` }),
    ...(first?.summary !== undefined && { summary: first.summary }),
    labels: keyLabels(group),
    ...(options.url !== undefined && { url: options.url }),
    ...(options.note !== undefined && { note: options.note }),
    buttons,
  });
}
