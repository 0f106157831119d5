// Under a backlog, many queued messages for one target become a few digest messages,
// each within the byte limit and listing every message it replaces, so a storm arrives
// complete at the target's pace.
import type { Message, TemplateFormat } from "../types.js";

export interface DigestItem {
  summary: string;
  /** Epoch ms when the message was queued. */
  at: number;
}

/** Renders a digest of `items` (the relay wires this to the digest template). */
export type DigestRenderer = (items: DigestItem[], context: { target: string; receiver: string; msgtype: TemplateFormat }) => string;

export interface CoalesceRow {
  id: string;
  message: Message;
  createdAt: number;
}

/** A message to send and the outbox rows it stands for. */
export interface SendUnit {
  message: Message;
  rowIds: string[];
  coalesced: boolean;
}

/**
 * Whether a backlog of `queued` messages would take longer than `coalesceAfterMs` to
 * drain at the target's pace of one message per `intervalMs`.
 */
export function shouldCoalesce(queued: number, intervalMs: number, coalesceAfterMs: number): boolean {
  return queued > 1 && queued * intervalMs > coalesceAfterMs;
}

/**
 * Text when any row mentions someone: only text messages carry mentioned_list (and
 * "@all"), and a storm of pages must still page. Otherwise the rows' most common type.
 */
function digestType(rows: readonly CoalesceRow[]): TemplateFormat {
  if (rows.some((row) => row.message.mention.length > 0)) return "text";
  // A digest lists many notifications: it is never a card.
  return mostCommon(rows.map((row) => (row.message.msgtype === "markdown" ? "markdown" : "text"))) as TemplateFormat;
}

function mostCommon(values: readonly string[]): string {
  const counts = new Map<string, number>();
  let best = values[0] ?? "";
  for (const value of values) {
    const count = (counts.get(value) ?? 0) + 1;
    counts.set(value, count);
    if (count > (counts.get(best) ?? 0)) best = value;
  }
  return best;
}

/**
 * Packs rows, oldest first, into as few digests as fit `limitBytes`. A row whose summary
 * alone does not fit a digest is sent as its own (already split) message.
 */
export function packDigests(
  rows: readonly CoalesceRow[],
  target: string,
  limitFor: (msgtype: TemplateFormat) => number,
  render: DigestRenderer,
): SendUnit[] {
  if (rows.length === 0) return [];
  const receiver = mostCommon(rows.map((row) => row.message.receiver));
  const msgtype = digestType(rows);
  const limitBytes = limitFor(msgtype);
  const context = { target, receiver, msgtype };
  const units: SendUnit[] = [];
  let batch: CoalesceRow[] = [];
  let batchContent = "";

  const flush = () => {
    if (batch.length === 0) return;
    units.push(
      batch.length === 1
        ? { message: batch[0]!.message, rowIds: [batch[0]!.id], coalesced: false }
        : { message: digestMessage(batch, batchContent, context), rowIds: batch.map((row) => row.id), coalesced: true },
    );
    batch = [];
    batchContent = "";
  };

  for (const row of rows) {
    const candidate = [...batch, row];
    const content = render(digestItems(candidate), context);
    if (Buffer.byteLength(content) <= limitBytes) {
      batch = candidate;
      batchContent = content;
      continue;
    }
    flush();
    const alone = render([digestItem(row)], context);
    if (Buffer.byteLength(alone) <= limitBytes) {
      batch = [row];
      batchContent = alone;
    } else {
      units.push({ message: row.message, rowIds: [row.id], coalesced: false });
    }
  }
  flush();
  return units;
}

function digestItem(row: CoalesceRow): DigestItem {
  return { summary: row.message.summary, at: row.createdAt };
}

/**
 * One item per notification. The parts of one split message carry the same events for
 * the same receiver; two notifications with the same title stored in the same
 * millisecond do not, and are both listed.
 */
function digestItems(rows: readonly CoalesceRow[]): DigestItem[] {
  const seen = new Set<string>();
  return rows.flatMap((row) => {
    const key = notificationKey(row.message);
    if (seen.has(key)) return [];
    seen.add(key);
    return [digestItem(row)];
  });
}

function notificationKey(message: Message): string {
  return `${message.receiver}\0${message.eventIds.join("\0")}`;
}

function digestMessage(
  batch: readonly CoalesceRow[],
  content: string,
  context: { target: string; receiver: string; msgtype: TemplateFormat },
): Message {
  const mention = [...new Set(batch.flatMap((row) => row.message.mention))];
  return {
    target: context.target,
    receiver: context.receiver,
    msgtype: context.msgtype,
    content,
    mention,
    summary: `digest of ${batch.length} notifications`,
    eventIds: [...new Set(batch.flatMap((row) => row.message.eventIds))],
  };
}
