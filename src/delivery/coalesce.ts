// Under a backlog, many queued messages for one target become a few digest messages,
// each within the byte limit and listing every message it replaces, so a storm arrives
// complete at the target's pace. Packing is linear: each row's line is rendered once,
// and the digest itself once when it is full.
import type { Message, TemplateFormat } from "../types.js";

export interface DigestItem {
  summary: string;
  /** Epoch ms when the message was queued. */
  at: number;
}

/** Renders a digest of `items` (the relay wires this to the digest template). */
export type DigestRenderer = (items: DigestItem[], context: DigestContext) => string;

export interface DigestContext {
  target: string;
  receiver: string;
  msgtype: TemplateFormat;
}

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

/** The rows a digest may be asked to carry need no more than this many bytes of slack for the count. */
const COUNT_SLACK_BYTES = 8;

/**
 * Builds one send unit from a target's queue, row by row: `offer` each row in queue
 * order until it answers false, then `unit()`. Text when any row mentions someone (only
 * text carries mentioned_list and "@all"); otherwise markdown when the first row is.
 */
export class DigestPacker {
  private rows: CoalesceRow[] = [];
  /** For each row, the index of the item that lists it. */
  private rowItems: number[] = [];
  private readonly items: DigestItem[] = [];
  private readonly itemKeys = new Map<string, number>();
  private readonly costs: number[] = [];
  private msgtype: TemplateFormat | undefined;
  private overhead = 0;
  private emptyBytes = 0;
  private used = 0;
  private alone: CoalesceRow | undefined;

  constructor(
    private readonly target: string,
    private readonly limitFor: (msgtype: TemplateFormat) => number,
    private readonly render: DigestRenderer,
  ) {}

  /** Takes `row` into the digest; false when it does not fit (leave it for the next one). */
  offer(row: CoalesceRow): boolean {
    if (this.alone !== undefined) return false;
    const wanted: TemplateFormat = row.message.mention.length > 0 || this.msgtype === "text" ? "text" : (this.msgtype ?? typeOf(row.message));
    if (wanted !== this.msgtype) this.switchType(wanted, row.message.receiver);
    const key = notificationKey(row.message);
    const item = { summary: row.message.summary, at: row.createdAt };
    const listedAt = this.itemKeys.get(key);
    const cost = listedAt !== undefined ? 0 : this.itemCost(item);
    if (this.overhead + this.used + cost > this.limitFor(this.msgtype!)) {
      // A row too large for any digest goes out as its own (already split) message.
      if (this.rows.length === 0) {
        this.alone = row;
        return true;
      }
      return false;
    }
    this.rows.push(row);
    if (listedAt !== undefined) {
      this.rowItems.push(listedAt);
    } else {
      this.itemKeys.set(key, this.items.length);
      this.rowItems.push(this.items.length);
      this.items.push(item);
      this.costs.push(cost);
      this.used += cost;
    }
    return true;
  }

  /** What to send for the rows taken; undefined when none were. */
  unit(): SendUnit | undefined {
    if (this.alone !== undefined) return { message: this.alone.message, rowIds: [this.alone.id], coalesced: false };
    if (this.rows.length === 0) return undefined;
    if (this.rows.length === 1) return { message: this.rows[0]!.message, rowIds: [this.rows[0]!.id], coalesced: false };
    const context = this.context();
    let content = this.render(this.items, context);
    // Estimates add up line by line; a template that is not additive is trimmed here.
    while (Buffer.byteLength(content) > this.limitFor(context.msgtype) && this.items.length > 1) {
      this.items.pop();
      const kept = this.rows.flatMap((row, i) => (this.rowItems[i]! < this.items.length ? [[row, this.rowItems[i]!] as const] : []));
      this.rows = kept.map(([row]) => row);
      this.rowItems = kept.map(([, item]) => item);
      content = this.render(this.items, context);
    }
    return { message: digestMessage(this.rows, content, context), rowIds: this.rows.map((row) => row.id), coalesced: true };
  }

  private context(): DigestContext {
    return { target: this.target, receiver: mostCommon(this.rows.map((row) => row.message.receiver)), msgtype: this.msgtype ?? "text" };
  }

  /** The bytes one more line costs: a one-item digest less an empty one. */
  private itemCost(item: DigestItem): number {
    const context = this.context();
    return Math.max(1, Buffer.byteLength(this.render([item], context)) - this.emptyBytes);
  }

  private switchType(msgtype: TemplateFormat, receiver: string): void {
    this.msgtype = msgtype;
    const context = { ...this.context(), receiver };
    this.emptyBytes = Buffer.byteLength(this.render([], context));
    this.overhead = this.emptyBytes + COUNT_SLACK_BYTES;
    // At most once per digest (markdown to text): the lines taken so far are priced again.
    this.costs.splice(0, this.costs.length, ...this.items.map((item) => this.itemCost(item)));
    this.used = this.costs.reduce((sum, cost) => sum + cost, 0);
  }
}

function typeOf(message: Message): TemplateFormat {
  // A digest lists many notifications: it is never a card.
  return message.msgtype === "markdown" ? "markdown" : "text";
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
 * One item per notification. The parts of one split message carry the same events for
 * the same receiver; two notifications with the same title stored in the same
 * millisecond do not, and are both listed.
 */
function notificationKey(message: Message): string {
  return `${message.receiver}\0${message.eventIds.join("\0")}`;
}

function digestMessage(batch: readonly CoalesceRow[], content: string, context: DigestContext): Message {
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

/** Packs `rows`, oldest first, into as few units as fit (each row in exactly one unit). */
export function packDigests(
  rows: readonly CoalesceRow[],
  target: string,
  limitFor: (msgtype: TemplateFormat) => number,
  render: DigestRenderer,
): SendUnit[] {
  const units: SendUnit[] = [];
  let packer = new DigestPacker(target, limitFor, render);
  for (const row of rows) {
    if (packer.offer(row)) continue;
    units.push(packer.unit()!);
    packer = new DigestPacker(target, limitFor, render);
    packer.offer(row);
  }
  const last = packer.unit();
  if (last) units.push(last);
  return units;
}
