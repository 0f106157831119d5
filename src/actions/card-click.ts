// A button click on a template_card, as WeCom reports it in a decrypted callback
// (Event template_card_event): who clicked which button of which card, and the
// response_code that updates that card once.

export interface CardClick {
  user: string;
  /** Seconds, as WeCom writes it; with the user, names one click across WeCom's retries. */
  createTime: string;
  eventKey: string;
  taskId: string;
  responseCode: string;
}

/** The text of `<Name>` in WeCom's flat XML, CDATA or plain; undefined when absent. */
function field(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>(?:<!\\[CDATA\\[([\\s\\S]*?)\\]\\]>|([^<]*))</${name}>`).exec(xml);
  if (!match) return undefined;
  return (match[1] ?? match[2] ?? "").trim();
}

/** The click in a callback's plaintext, or undefined when it is another kind of message or event. */
export function parseCardClick(xml: string): CardClick | undefined {
  if (field(xml, "MsgType") !== "event" || field(xml, "Event") !== "template_card_event") return undefined;
  const click = {
    user: field(xml, "FromUserName"),
    createTime: field(xml, "CreateTime"),
    eventKey: field(xml, "EventKey"),
    taskId: field(xml, "TaskId"),
    responseCode: field(xml, "ResponseCode"),
  };
  if (Object.values(click).some((value) => value === undefined || value === "")) return undefined;
  return click as CardClick;
}

/** The message type of a callback, for its log line. */
export function callbackMessageType(xml: string): string | undefined {
  const type = field(xml, "MsgType");
  return type === "event" ? `event:${field(xml, "Event") ?? "unknown"}` : type;
}
