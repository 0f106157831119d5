// The `template_card` object of an app message (message/send, msgtype "template_card") of
// card_type "button_interaction": an alert with buttons whose clicks come back as
// template_card_event callbacks. Pure: no I/O.
//
// WeCom's limits for this card (app messages, developer.work.weixin.qq.com/document/path/90236
// "模板卡片消息", internal twin path/90372; read in SDK mirrors of that page, e.g.
// zsmhub/workweixin apis/发送应用消息-模板卡片消息.go, and path/101032 for the structs):
//   task_id                  required, [0-9A-Za-z_-@] only, ≤128 bytes, unique per app
//                            (a reused one gets errcode 42014 "taskid has existed or empty
//                            or exceed max len", a reply quoted on developers.weixin.qq.com)
//   main_title.title         ≤36 characters; main_title.desc ≤44
//   sub_title_text           ≤160 characters
//   horizontal_content_list  ≤6 rows; keyname ≤5 characters, value ≤30; type 1 = link (url)
//   button_list              ≤6 buttons; text ≤10 字 (a Latin character counts half); style 1–4 (other values: 1);
//                            key ≤1024 bytes, unique, required for callback buttons (type 0)
//   card_action              optional for this card type; type 1 = open url
//   source.desc ≤20, emphasis_content title ≤14 / desc ≤22 (not used here)
//   quote_area               no documented limit; quote_text is kept to sub_title_text's 160
//   urls                     no template-card figure; textcard's url rule from the same page
//                            (≤2048 bytes, with http:// or https://) is applied
// The character counts are WeCom's advice ("建议不超过"); the relay keeps to them anyway, so
// nothing it sends depends on how a client cuts. Counted in code points, as truncate.ts does.
// message/update_template_card (path/94945, internal path/94888) takes the same card, plus
// the response_code from the send reply or the click callback: one use, within 72 h.
import { fitWidth, keepChars } from "../../truncate.js";

export const CARD_LIMITS = {
  taskIdBytes: 128,
  titleChars: 36,
  descChars: 44,
  subTitleChars: 160,
  quoteChars: 160,
  rows: 6,
  keynameChars: 5,
  valueChars: 30,
  buttons: 6,
  buttonTextChars: 10,
  buttonKeyBytes: 1024,
  urlBytes: 2048,
} as const;

export interface CardButton {
  text: string;
  key: string;
  style?: 1 | 2 | 3 | 4;
}

export interface CardInput {
  /** [A-Za-z0-9_@-], at most 128 bytes; WeCom refuses one the app used before. */
  taskId: string;
  /** E.g. "🔴 [FIRING:2] HighLatency". */
  title: string;
  /** E.g. severity · receiver. */
  description?: string;
  /** The alert's summary, shown as sub_title_text. */
  summary?: string;
  /** Key labels; at most 6 rows are shown, one fewer when `url` takes the last row. */
  labels: ReadonlyArray<readonly [string, string]>;
  /** http(s) link: the card's click target and a "详情" row. */
  url?: string;
  /** E.g. "Acked by zhangsan", shown as a quote under the title. */
  note?: string;
  /** 1..6 callback buttons. */
  buttons: readonly CardButton[];
}

export type CardBuild = { ok: true; card: Record<string, unknown> } | { ok: false; reason: string };

const TASK_ID = /^[A-Za-z0-9_@-]+$/;

/** Label of the link row; WeCom's own word for "details" (its textcard button says the same). */
const DETAILS_KEYNAME = "详情";

export function isTaskId(value: string): boolean {
  return TASK_ID.test(value) && Buffer.byteLength(value) <= CARD_LIMITS.taskIdBytes;
}

/** `text` in at most `limit` characters, "…" included when cut. */
function fitChars(text: string, limit: number): string {
  return Array.from(text).length <= limit ? text : keepChars(text, limit - 1);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/** Builds the card, cutting text to WeCom's limits; refuses only what cutting cannot fix. */
export function buttonInteractionCard(input: CardInput): CardBuild {
  if (!isTaskId(input.taskId)) {
    return { ok: false, reason: `task_id must be 1-${CARD_LIMITS.taskIdBytes} bytes of [A-Za-z0-9_@-]` };
  }
  if (input.title.trim() === "") return { ok: false, reason: "main_title.title is empty" };

  const buttons = buildButtons(input.buttons);
  if (typeof buttons === "string") return { ok: false, reason: buttons };

  let link: URL | undefined;
  if (input.url !== undefined) {
    if (!isHttpUrl(input.url)) return { ok: false, reason: "url must be an http(s) URL" };
    // Sent as parsed: trimmed, percent-encoded, scheme first, as WeCom wants it.
    link = new URL(input.url);
    // A cut link would lead somewhere else.
    if (Buffer.byteLength(link.href) > CARD_LIMITS.urlBytes) {
      return { ok: false, reason: `url is over ${CARD_LIMITS.urlBytes} bytes` };
    }
  }

  const mainTitle: Record<string, string> = { title: fitChars(input.title, CARD_LIMITS.titleChars) };
  if (input.description !== undefined && input.description !== "") {
    mainTitle.desc = fitChars(input.description, CARD_LIMITS.descChars);
  }
  const card: Record<string, unknown> = { card_type: "button_interaction", main_title: mainTitle };
  if (input.summary !== undefined && input.summary !== "") {
    card.sub_title_text = fitChars(input.summary, CARD_LIMITS.subTitleChars);
  }
  if (input.note !== undefined && input.note !== "") {
    card.quote_area = { type: 0, quote_text: fitChars(input.note, CARD_LIMITS.quoteChars) };
  }

  const rows: Record<string, unknown>[] = [];
  const labelRows = CARD_LIMITS.rows - (link ? 1 : 0);
  for (const [name, value] of input.labels) {
    if (rows.length >= labelRows) break;
    if (name === "" || value === "") continue;
    rows.push({
      keyname: fitChars(name, CARD_LIMITS.keynameChars),
      value: fitChars(value, CARD_LIMITS.valueChars),
    });
  }
  if (link) {
    const value = fitChars(link.host, CARD_LIMITS.valueChars);
    rows.push({ type: 1, keyname: DETAILS_KEYNAME, value, url: link.href });
    card.card_action = { type: 1, url: link.href };
  }
  if (rows.length > 0) card.horizontal_content_list = rows;

  card.task_id = input.taskId;
  card.button_list = buttons;
  return { ok: true, card };
}

/** The button_list, or the reason it cannot be sent. */
function buildButtons(buttons: readonly CardButton[]): Record<string, unknown>[] | string {
  if (buttons.length === 0 || buttons.length > CARD_LIMITS.buttons) {
    return `button_list needs 1-${CARD_LIMITS.buttons} buttons, got ${buttons.length}`;
  }
  const seen = new Set<string>();
  const list: Record<string, unknown>[] = [];
  for (const [index, button] of buttons.entries()) {
    const field = `button_list[${index}]`;
    // The key comes back in the click callback: a changed key would match no action.
    if (button.key === "") return `${field}.key is empty`;
    if (Buffer.byteLength(button.key) > CARD_LIMITS.buttonKeyBytes) {
      return `${field}.key is over ${CARD_LIMITS.buttonKeyBytes} bytes`;
    }
    if (seen.has(button.key)) return `${field}.key "${keepChars(button.key, 40)}" is used twice`;
    seen.add(button.key);
    if (button.text.trim() === "") return `${field}.text is empty`;
    // "10 字": "Silence 24h" fits, as it does on WeCom's clients.
    const text = fitWidth(button.text, CARD_LIMITS.buttonTextChars);
    const entry: Record<string, unknown> = { text, key: button.key };
    // WeCom shows any other style as 1.
    if (button.style !== undefined && [1, 2, 3, 4].includes(button.style)) entry.style = button.style;
    list.push(entry);
  }
  return list;
}
