/**
 * An in-process fake of the WeCom server API for integration tests: real HTTP on
 * 127.0.0.1 (port 0), no network needed.
 *
 *   const wecom = await startFakeWeCom({ robotRateLimit: { max: 3, perMs: 500 } });
 *   // point the relay's wecom.api_base at wecom.url; robot webhooks may be bare keys
 *   // or wecom.robotWebhook("k1")
 *   const [first] = await wecom.waitForRobotMessages(1, { key: "k1" });
 *   expect(first?.content).toContain("FIRING");
 *   await wecom.close();
 *
 * Like WeCom itself, every answer is HTTP 200 with JSON `{errcode, errmsg, ...}`; errors
 * have WeCom's errmsg shape ("<reason>, hint: [...], from ip: ..., more info at ...").
 * Only injected faults answer otherwise.
 *
 * Group robot — POST /cgi-bin/webhook/send?key=K
 *   - key missing, or not in `robotKeys` when that is given         -> 93000
 *   - not POST -> 43002; body not a JSON object -> 47001
 *   - msgtype missing or unknown -> 40008 (text, markdown, markdown_v2 are checked in
 *     full; image, news, file, voice, template_card only need their object)
 *   - content missing or empty -> 44004; text over 2048 UTF-8 bytes, markdown or
 *     markdown_v2 over 4096 -> 40058 "<type>.content exceed max length N";
 *     mentioned_list / mentioned_mobile_list not string arrays -> 40058
 *   - more than `robotRateLimit.max` accepted messages for the key within the last
 *     `perMs` (sliding window; default 20 per 60 000 ms, WeCom's own) -> 45009
 *   Only accepted messages are recorded (robotMessages) and count toward the limit.
 *
 * App — GET /cgi-bin/gettoken?corpid=C&corpsecret=S, POST /cgi-bin/message/send?access_token=T
 *   - `apps` lists valid {corpId, secret, agentId?} (default: DEFAULT_FAKE_APP).
 *     Unknown corp -> 40013, wrong secret -> 40001, missing params -> 41002 / 41004.
 *     Every call counts in gettokenCalls. Each call issues a new token valid for
 *     `tokenTtlMs` (default 7 200 000); expires_in is whole seconds, rounded down.
 *   - send: no token -> 41001, unknown or revoked token -> 40014, expired -> 42001,
 *     agentid not an integer -> 40056, not the token's app's agentId -> 301002,
 *     no touser/toparty/totag -> 82001. Users in `unknownUsers` come back in
 *     invaliduser (lower-cased); when every recipient is invalid -> 81013.
 *     text and markdown over 2048 bytes -> 40058 (stricter than WeCom, which cuts text:
 *     the relay must never send over-long content). Accepted messages are recorded
 *     (appMessages) and answered with a msgid.
 *   - expireTokens() expires every issued token (-> 42001); revokeTokens() forgets them (-> 40014).
 *     issuedTokens() lists every token handed out, revoked or not (to check none leaks).
 *
 * App template cards — message/send with msgtype "template_card"
 *   - card_type missing or unknown -> 40058. text_notice and news_notice only need their
 *     object. button_interaction, vote_interaction and multiple_interaction are checked:
 *     task_id missing, not [0-9A-Za-z_-@], over 128 bytes or already used by the app
 *     (corp + agentid) -> 42014 (WeCom's observed "taskid has existed or empty or exceed
 *     max len"); main_title.title missing -> 40058; text over WeCom's advised lengths
 *     (CARD_TEXT_LIMITS, characters) -> 40058 "<field> exceed max length N"; more than 6
 *     horizontal_content_list rows -> 40058; a url without http(s):// -> 45034.
 *     button_interaction: button_list of 1-6 -> else 40058; button text missing -> 42020,
 *     over 10 characters -> 40058; callback button (type 0) without key -> 42019, key over
 *     1024 bytes -> 40058, key used twice -> 42018.
 *   - Accepted interactive cards are answered with a response_code (random), recorded with
 *     the message as responseCode next to its taskId. clickResponseCode(taskId) hands out
 *     the fresh code a click callback would carry.
 *
 * App card update — POST /cgi-bin/message/update_template_card?access_token=T
 *   - token, method, body and agentid are checked as for message/send.
 *   - response_code missing or unknown -> 40058; already used (one use each) -> 42022;
 *     72 h or older by `now` -> 40058 "response_code expired"; card sent by another app
 *     -> 42015. (WeCom documents no codes for these: 42022 is its error list's "code has
 *     been used, only once", 42015 "updating app differs from sending app".)
 *   - needs button.replace_name (button without it -> 42020) or a template_card (checked
 *     as above, task_id optional and not unique-checked); neither -> 40058.
 *   - recipients: userids (strings, <=1000 -> else 40032), partyids / tagids (integers,
 *     <=100 -> else 82002 / 82003), atall 1; none of them -> 82001.
 *   Accepted updates are recorded (cardUpdates) and consume the code.
 *
 * Faults — failNext(n, fault, endpoint?) makes the next n requests (to that endpoint
 * kind, or to any) answer with the fault instead of the rules above; faulted requests
 * are not recorded as messages and do not count toward rate limits. A fault is one of
 *   { errcode, errmsg? }           HTTP 200 with that errcode
 *   { httpStatus, body?, contentType?, headers? }  that status and raw body (an HTML
 *                                  page unless given: { httpStatus: 200 } is a non-JSON answer)
 *   { delayMs }                    wait, then handle the request normally — even when
 *                                  the client gave up meanwhile: like a slow WeCom, the
 *                                  message is then delivered though the sender timed out
 *   "hang"                         read the request, never answer (until close())
 *   "reset"                        read the request, then reset the TCP connection
 * Several failNext calls queue up in order.
 *
 * Every request, answered or not, is listed by requests() with what the fake did.
 * Time comes from `now` (default Date.now) for rate windows, token expiry and
 * receivedAt; waitFor* time out with real timers.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type FakeEndpoint = "robot" | "gettoken" | "app" | "card_update";

export type FakeFault =
  | { errcode: number; errmsg?: string }
  | { httpStatus: number; body?: string; contentType?: string; headers?: Record<string, string> }
  | { delayMs: number }
  | "hang"
  | "reset";

export interface FakeApp {
  corpId: string;
  secret: string;
  /** When set, messages must carry this agentid (else 301002). */
  agentId?: number;
}

export const DEFAULT_FAKE_APP: Readonly<Required<FakeApp>> = {
  corpId: "ww-fake-corp",
  secret: "fake-app-secret",
  agentId: 1000002,
};

export interface RateWindow {
  max: number;
  perMs: number;
}

export interface FakeWeComOptions {
  /** Robot keys that exist; when omitted every non-empty key is a robot. */
  robotKeys?: string[];
  /** Per robot key; default 20 per 60 000 ms. */
  robotRateLimit?: RateWindow;
  /** Valid app credentials; default [DEFAULT_FAKE_APP]. */
  apps?: FakeApp[];
  /** Lifetime of issued access tokens; default 7 200 000 ms. */
  tokenTtlMs?: number;
  /** User ids that do not exist (reported in invaliduser). */
  unknownUsers?: string[];
  /** Clock in epoch ms; default Date.now. */
  now?: () => number;
}

export interface RecordedRobotMessage {
  key: string;
  msgtype: string;
  /** text/markdown/markdown_v2 content; "" for other types. */
  content: string;
  mentionedList: string[];
  mentionedMobileList: string[];
  /** The whole parsed request body. */
  body: Record<string, unknown>;
  receivedAt: number;
}

export interface RecordedAppMessage {
  corpId: string;
  agentId: number;
  msgtype: string;
  /** text/markdown content, textcard description; "" for other types. */
  content: string;
  touser: string[];
  toparty: string[];
  totag: string[];
  /** Lower-cased ids reported back as invalid. */
  invalidUsers: string[];
  msgid: string;
  /** template_card: its task_id, when it has one. */
  taskId?: string;
  /** The response_code answered for a button/vote/multiple-choice card (for update_template_card). */
  responseCode?: string;
  body: Record<string, unknown>;
  receivedAt: number;
}

export interface RecordedCardUpdate {
  responseCode: string;
  /** The task_id of the card the code belongs to. */
  taskId: string;
  /** button.replace_name, when the update greys out the clicked button. */
  replaceName?: string;
  /** The replacement card, when the update sends one. */
  templateCard?: Record<string, unknown>;
  userids: string[];
  partyids: number[];
  tagids: number[];
  atall: boolean;
  body: Record<string, unknown>;
  receivedAt: number;
}

export interface RecordedRequest {
  endpoint: FakeEndpoint | "other";
  method: string;
  pathname: string;
  /** The robot key, for robot requests. */
  key?: string;
  receivedAt: number;
  /** What the fake did: an HTTP answer (with its errcode when JSON), or a dropped request. */
  reply: { httpStatus: number; errcode?: number } | "hang" | "reset";
  /** True when failNext decided the reply. */
  injected: boolean;
}

export interface WaitOptions {
  /** Default 5000 ms. */
  timeoutMs?: number;
}

export interface FakeWeCom {
  /** Base URL, e.g. http://127.0.0.1:40123 — use as wecom.api_base. */
  readonly url: string;
  /** A full robot webhook URL for this fake. */
  robotWebhook(key: string): string;
  /** Accepted robot messages in arrival order, for one key or all. */
  robotMessages(key?: string): RecordedRobotMessage[];
  /** Accepted app messages in arrival order. */
  appMessages(): RecordedAppMessage[];
  /** Every request received, optionally of one endpoint kind. */
  requests(endpoint?: FakeEndpoint | "other"): RecordedRequest[];
  readonly gettokenCalls: number;
  /** Every access_token issued since start or reset(), in order, including revoked ones. */
  issuedTokens(): string[];
  /** Resolves with the messages once at least `count` are recorded (for `key` if given). */
  waitForRobotMessages(count: number, opts?: WaitOptions & { key?: string }): Promise<RecordedRobotMessage[]>;
  waitForAppMessages(count: number, opts?: WaitOptions): Promise<RecordedAppMessage[]>;
  /** Accepted message/update_template_card calls in arrival order. */
  cardUpdates(): RecordedCardUpdate[];
  waitForCardUpdates(count: number, opts?: WaitOptions): Promise<RecordedCardUpdate[]>;
  /**
   * A new response_code for the card last sent with `taskId`, like the one in the
   * template_card_event callback of a click: one use, valid 72 h from now(). Throws when
   * no accepted card has that task_id.
   */
  clickResponseCode(taskId: string): string;
  failNext(n: number, fault: FakeFault, endpoint?: FakeEndpoint): void;
  setRobotRateLimit(max: number, perMs: number): void;
  expireTokens(): void;
  revokeTokens(): void;
  /**
   * Forgets messages, card updates, task ids, response codes, requests, faults, rate
   * windows, tokens and the gettoken count, and drops delayed requests not yet handled.
   * Options and setRobotRateLimit stay.
   */
  reset(): void;
  /** Stops the server, dropping open connections (including hung requests). */
  close(): Promise<void>;
}

interface JsonReply {
  errcode: number;
  errmsg: string;
  [field: string]: unknown;
}

interface IssuedToken {
  app: FakeApp;
  expiresAt: number;
}

interface PendingFault {
  remaining: number;
  fault: FakeFault;
  endpoint?: FakeEndpoint;
}

interface Waiter {
  check(): boolean;
}

interface IssuedResponseCode {
  taskId: string;
  corpId: string;
  agentId: number;
  issuedAt: number;
  used: boolean;
}

/** An authenticated app request: the token's app, the parsed body and its agentid. */
interface AppRequest {
  issued: IssuedToken;
  body: Record<string, unknown>;
  agentId: number;
}

const ROBOT_BYTE_LIMITS: Record<string, number> = { text: 2048, markdown: 4096, markdown_v2: 4096 };
const ROBOT_OBJECT_TYPES = new Set(["image", "news", "file", "voice", "template_card"]);
const APP_BYTE_LIMITS: Record<string, number> = { text: 2048, markdown: 2048 };
const APP_OBJECT_TYPES = new Set(["textcard", "news", "template_card", "image", "file"]);

const ENDPOINTS: Record<string, FakeEndpoint> = {
  "/cgi-bin/webhook/send": "robot",
  "/cgi-bin/gettoken": "gettoken",
  "/cgi-bin/message/send": "app",
  "/cgi-bin/message/update_template_card": "card_update",
};

// Template cards (message/send path/90236; update_template_card path/94945). The text
// limits are WeCom's advice ("建议不超过 N 个字") for app cards, counted in characters;
// the fake holds senders to them (quote_text has no documented figure: 160, as
// sub_title_text). The same numbers are in src/channels/wecom/template-card.ts, kept
// apart so the fake checks the builder rather than agreeing with it by construction.
const NOTICE_CARD_TYPES = new Set(["text_notice", "news_notice"]);
/** Card types whose send answers a response_code, and that need a task_id. */
const INTERACTIVE_CARD_TYPES = new Set(["button_interaction", "vote_interaction", "multiple_interaction"]);
const CARD_TEXT_LIMITS: ReadonlyArray<readonly [string, string, number]> = [
  ["main_title", "title", 36],
  ["main_title", "desc", 44],
  ["quote_area", "quote_text", 160],
  ["source", "desc", 20],
  ["emphasis_content", "title", 14],
  ["emphasis_content", "desc", 22],
];
const SUB_TITLE_LIMIT = 160;
const CARD_ROWS_LIMIT = 6;
const KEYNAME_LIMIT = 5;
const ROW_VALUE_LIMIT = 30;
const BUTTONS_LIMIT = 6;
const BUTTON_TEXT_LIMIT = 10;
const BUTTON_KEY_BYTES = 1024;
const TASK_ID_BYTES = 128;
const TASK_ID_PATTERN = /^[0-9A-Za-z_@-]+$/;
/** response_code lifetime: 72 h (path/94945, 2025; older copies said 24 h). */
const RESPONSE_CODE_TTL_MS = 72 * 3600 * 1000;

/** WeCom's error text: a reason, then a hint tail that clients are expected to ignore. */
function wecomError(errcode: number, reason: string): JsonReply {
  return {
    errcode,
    errmsg: `${reason}, hint: [${Date.now()}-fake], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`,
  };
}

const OK: JsonReply = { errcode: 0, errmsg: "ok" };

/** The content of a text-like section, or WeCom's error for empty or over-long content. */
function sectionContent(section: unknown, msgtype: string, byteLimit: number): string | JsonReply {
  if (!isObject(section) || typeof section.content !== "string" || section.content === "") {
    return wecomError(44004, "empty content");
  }
  if (Buffer.byteLength(section.content, "utf8") > byteLimit) {
    return wecomError(40058, `${msgtype}.content exceed max length ${byteLimit}`);
  }
  return section.content;
}

/** WeCom's error for a text field over `limit` characters, or not a string. */
function textOver(value: unknown, limit: number, field: string): JsonReply | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") return wecomError(40058, `invalid ${field}`);
  if (Array.from(value).length > limit) return wecomError(40058, `${field} exceed max length ${limit}`);
  return undefined;
}

/** Button texts are counted in 字: a Latin character is half of one. */
function widthOver(value: unknown, limit: number, field: string): JsonReply | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") return wecomError(40058, `invalid ${field}`);
  let width = 0;
  for (const char of value) width += char.codePointAt(0)! < 0x80 ? 0.5 : 1;
  if (width > limit) return wecomError(40058, `${field} exceed max length ${limit}`);
  return undefined;
}

/** Links in cards, checked as WeCom checks textcard urls: scheme required, at most 2048 bytes. */
function urlError(value: unknown, field: string): JsonReply | undefined {
  if (typeof value !== "string" || value === "") return wecomError(40058, `${field} missing`);
  if (!/^https?:\/\//i.test(value)) return wecomError(45034, `${field} must start with http:// or https://`);
  if (Buffer.byteLength(value, "utf8") > 2048) return wecomError(40058, `${field} exceed max length 2048`);
  return undefined;
}

function isTaskId(value: unknown): value is string {
  return typeof value === "string" && TASK_ID_PATTERN.test(value) && Buffer.byteLength(value) <= TASK_ID_BYTES;
}

/**
 * WeCom's error for a template_card, or undefined when it would be accepted. task_id
 * uniqueness needs the app's history and is checked by the caller. An update's card may
 * leave task_id out (it replaces a card that has one).
 */
function templateCardError(card: Record<string, unknown>, forUpdate: boolean): JsonReply | undefined {
  const cardType = card.card_type;
  if (typeof cardType !== "string" || !(NOTICE_CARD_TYPES.has(cardType) || INTERACTIVE_CARD_TYPES.has(cardType))) {
    return wecomError(40058, "invalid template_card.card_type");
  }
  if (NOTICE_CARD_TYPES.has(cardType)) return undefined;

  if ((!forUpdate || card.task_id !== undefined) && !isTaskId(card.task_id)) {
    return wecomError(42014, "taskid has existed or empty or exceed max len");
  }
  const mainTitle = card.main_title;
  if (!isObject(mainTitle) || typeof mainTitle.title !== "string" || mainTitle.title === "") {
    return wecomError(40058, "template_card.main_title.title missing");
  }
  for (const [section, field, limit] of CARD_TEXT_LIMITS) {
    const part = card[section];
    const error = textOver(isObject(part) ? part[field] : undefined, limit, `template_card.${section}.${field}`);
    if (error) return error;
  }
  const subTitle = textOver(card.sub_title_text, SUB_TITLE_LIMIT, "template_card.sub_title_text");
  if (subTitle) return subTitle;
  for (const section of ["card_action", "quote_area"]) {
    const part = card[section];
    if (isObject(part) && part.type === 1) {
      const error = urlError(part.url, `template_card.${section}.url`);
      if (error) return error;
    }
  }
  const rows = card.horizontal_content_list;
  if (rows !== undefined) {
    if (!Array.isArray(rows)) return wecomError(40058, "invalid template_card.horizontal_content_list");
    if (rows.length > CARD_ROWS_LIMIT) {
      return wecomError(40058, `template_card.horizontal_content_list exceed max length ${CARD_ROWS_LIMIT}`);
    }
    for (const row of rows) {
      const field = "template_card.horizontal_content_list";
      if (!isObject(row) || typeof row.keyname !== "string" || row.keyname === "") {
        return wecomError(40058, `${field}.keyname missing`);
      }
      const error =
        textOver(row.keyname, KEYNAME_LIMIT, `${field}.keyname`) ??
        textOver(row.value, ROW_VALUE_LIMIT, `${field}.value`) ??
        (row.type === 1 ? urlError(row.url, `${field}.url`) : undefined);
      if (error) return error;
    }
  }
  return cardType === "button_interaction" ? buttonListError(card.button_list) : undefined;
}

function buttonListError(buttons: unknown): JsonReply | undefined {
  const field = "template_card.button_list";
  if (!Array.isArray(buttons) || buttons.length === 0) return wecomError(40058, `${field} missing`);
  if (buttons.length > BUTTONS_LIMIT) return wecomError(40058, `${field} exceed max length ${BUTTONS_LIMIT}`);
  const keys = new Set<string>();
  for (const button of buttons) {
    if (!isObject(button) || typeof button.text !== "string" || button.text === "") {
      return wecomError(42020, "missing button name");
    }
    const text = widthOver(button.text, BUTTON_TEXT_LIMIT, `${field}.text`);
    if (text) return text;
    if (button.type === 1) {
      const error = urlError(button.url, `${field}.url`);
      if (error) return error;
      continue;
    }
    // Callback buttons (type 0 or none) report their key in the click event.
    if (typeof button.key !== "string" || button.key === "") return wecomError(42019, "missing button key");
    if (Buffer.byteLength(button.key, "utf8") > BUTTON_KEY_BYTES) {
      return wecomError(40058, `${field}.key exceed max length ${BUTTON_KEY_BYTES}`);
    }
    if (keys.has(button.key)) return wecomError(42018, "invalid button key: duplicated");
    keys.add(button.key);
  }
  return undefined;
}

export async function startFakeWeCom(options: FakeWeComOptions = {}): Promise<FakeWeCom> {
  const now = options.now ?? Date.now;
  const validKeys = options.robotKeys ? new Set(options.robotKeys) : undefined;
  const apps = options.apps ?? [DEFAULT_FAKE_APP];
  const tokenTtlMs = options.tokenTtlMs ?? 7_200_000;
  const unknownUsers = new Set((options.unknownUsers ?? []).map((id) => id.toLowerCase()));
  let robotLimit: RateWindow = options.robotRateLimit ?? { max: 20, perMs: 60_000 };

  let robotLog: RecordedRobotMessage[] = [];
  let appLog: RecordedAppMessage[] = [];
  let cardUpdateLog: RecordedCardUpdate[] = [];
  /** Task ids each app (corp/agentid) has used; WeCom refuses a second card with one. */
  let taskIds = new Map<string, Set<string>>();
  let responseCodes = new Map<string, IssuedResponseCode>();
  let requestLog: RecordedRequest[] = [];
  let faults: PendingFault[] = [];
  let robotWindows = new Map<string, number[]>();
  let tokens = new Map<string, IssuedToken>();
  let issuedTokens: string[] = [];
  let gettokenCalls = 0;
  const waiters = new Set<Waiter>();
  const delays = new Set<NodeJS.Timeout>();

  /** Delayed requests not yet handled stay unanswered (they hang). */
  function cancelDelays(): void {
    for (const timer of delays) clearTimeout(timer);
    delays.clear();
  }

  function notifyWaiters(): void {
    for (const waiter of waiters) if (waiter.check()) waiters.delete(waiter);
  }

  function takeFault(endpoint: FakeEndpoint): FakeFault | undefined {
    const pending = faults.find((f) => f.endpoint === undefined || f.endpoint === endpoint);
    if (!pending) return undefined;
    pending.remaining -= 1;
    if (pending.remaining <= 0) faults = faults.filter((f) => f !== pending);
    return pending.fault;
  }

  // --- group robot ---------------------------------------------------------------

  function handleRobot(url: URL, method: string, raw: string, receivedAt: number): JsonReply {
    const key = url.searchParams.get("key") ?? "";
    if (key === "" || (validKeys && !validKeys.has(key))) return wecomError(93000, "invalid webhook url");
    if (method !== "POST") return wecomError(43002, "require POST method");
    const body = parseObject(raw);
    if (!body) return wecomError(47001, "data format error");

    const msgtype = body.msgtype;
    if (typeof msgtype !== "string") return wecomError(40008, "invalid message type");
    const section = body[msgtype];
    let content = "";
    let mentionedList: string[] = [];
    let mentionedMobileList: string[] = [];
    const byteLimit = ROBOT_BYTE_LIMITS[msgtype];
    if (byteLimit !== undefined) {
      const checked = sectionContent(section, msgtype, byteLimit);
      if (typeof checked !== "string") return checked;
      content = checked;
      if (msgtype === "text" && isObject(section)) {
        const lists = [section.mentioned_list, section.mentioned_mobile_list];
        if (!lists.every((list) => list === undefined || isStringArray(list))) {
          return wecomError(40058, "invalid mentioned_list or mentioned_mobile_list");
        }
        mentionedList = (section.mentioned_list as string[] | undefined) ?? [];
        mentionedMobileList = (section.mentioned_mobile_list as string[] | undefined) ?? [];
      }
    } else if (ROBOT_OBJECT_TYPES.has(msgtype)) {
      if (!isObject(section)) return wecomError(40058, `missing ${msgtype}`);
    } else {
      return wecomError(40008, "invalid message type");
    }

    const window = (robotWindows.get(key) ?? []).filter((at) => at > receivedAt - robotLimit.perMs);
    robotWindows.set(key, window);
    if (window.length >= robotLimit.max) return wecomError(45009, "api freq out of limit");
    window.push(receivedAt);

    robotLog.push({ key, msgtype, content, mentionedList, mentionedMobileList, body, receivedAt });
    return OK;
  }

  // --- app -----------------------------------------------------------------------

  function handleGettoken(url: URL, method: string): JsonReply {
    gettokenCalls += 1;
    if (method !== "GET") return wecomError(43001, "require GET method");
    const corpId = url.searchParams.get("corpid") ?? "";
    const secret = url.searchParams.get("corpsecret") ?? "";
    if (corpId === "") return wecomError(41002, "corpid missing");
    if (secret === "") return wecomError(41004, "corpsecret missing");
    const corpApps = apps.filter((app) => app.corpId === corpId);
    if (corpApps.length === 0) return wecomError(40013, "invalid corpid");
    const app = corpApps.find((candidate) => candidate.secret === secret);
    if (!app) return wecomError(40001, "invalid credential");
    const token = `fake-token-${randomBytes(24).toString("hex")}`;
    tokens.set(token, { app, expiresAt: now() + tokenTtlMs });
    issuedTokens.push(token);
    return { ...OK, access_token: token, expires_in: Math.max(1, Math.floor(tokenTtlMs / 1000)) };
  }

  /** The checks every access_token API shares: token, method, JSON body, agentid. */
  function appRequest(url: URL, method: string, raw: string, receivedAt: number): AppRequest | JsonReply {
    const accessToken = url.searchParams.get("access_token") ?? "";
    if (accessToken === "") return wecomError(41001, "access_token missing");
    const issued = tokens.get(accessToken);
    if (!issued) return wecomError(40014, "invalid access_token");
    if (receivedAt >= issued.expiresAt) return wecomError(42001, "access_token expired");
    if (method !== "POST") return wecomError(43002, "require POST method");
    const body = parseObject(raw);
    if (!body) return wecomError(47001, "data format error");

    const agentId = typeof body.agentid === "string" ? Number(body.agentid) : body.agentid;
    if (typeof agentId !== "number" || !Number.isInteger(agentId)) return wecomError(40056, "invalid agentid");
    if (issued.app.agentId !== undefined && issued.app.agentId !== agentId) {
      return wecomError(301002, "access_token and agentid mismatch");
    }
    return { issued, body, agentId };
  }

  function issueResponseCode(taskId: string, corpId: string, agentId: number, issuedAt: number): string {
    const code = randomBytes(24).toString("base64url");
    responseCodes.set(code, { taskId, corpId, agentId, issuedAt, used: false });
    return code;
  }

  function handleAppSend(url: URL, method: string, raw: string, receivedAt: number): JsonReply {
    const request = appRequest(url, method, raw, receivedAt);
    if ("errcode" in request) return request;
    const { issued, body, agentId } = request;

    const touser = splitIds(body.touser);
    const toparty = splitIds(body.toparty);
    const totag = splitIds(body.totag);
    if (touser.length + toparty.length + totag.length === 0) {
      return wecomError(82001, "All touser & toparty & totag invalid");
    }
    const invalidUsers = touser.map((id) => id.toLowerCase()).filter((id) => unknownUsers.has(id));
    if (invalidUsers.length === touser.length && toparty.length + totag.length === 0) {
      return wecomError(81013, "user & party & tag all invalid");
    }

    const msgtype = body.msgtype;
    if (typeof msgtype !== "string") return wecomError(40008, "invalid message type");
    const section = body[msgtype];
    let content = "";
    const byteLimit = APP_BYTE_LIMITS[msgtype];
    if (byteLimit !== undefined) {
      const checked = sectionContent(section, msgtype, byteLimit);
      if (typeof checked !== "string") return checked;
      content = checked;
    } else if (APP_OBJECT_TYPES.has(msgtype)) {
      if (!isObject(section)) return wecomError(40058, `missing ${msgtype}`);
      if (msgtype === "textcard" && typeof section.description === "string") content = section.description;
    } else {
      return wecomError(40008, "invalid message type");
    }

    const appKey = `${issued.app.corpId}/${agentId}`;
    let taskId: string | undefined;
    let interactive = false;
    if (msgtype === "template_card" && isObject(section)) {
      const error = templateCardError(section, false);
      if (error) return error;
      if (typeof section.task_id === "string") taskId = section.task_id;
      interactive = INTERACTIVE_CARD_TYPES.has(section.card_type as string);
      if (interactive && taskId !== undefined && taskIds.get(appKey)?.has(taskId)) {
        return wecomError(42014, "taskid has existed or empty or exceed max len");
      }
    }

    const msgid = randomBytes(16).toString("base64url");
    let responseCode: string | undefined;
    if (interactive && taskId !== undefined) {
      const used = taskIds.get(appKey) ?? new Set<string>();
      used.add(taskId);
      taskIds.set(appKey, used);
      responseCode = issueResponseCode(taskId, issued.app.corpId, agentId, receivedAt);
    }
    appLog.push({
      corpId: issued.app.corpId,
      agentId,
      msgtype,
      content,
      touser,
      toparty,
      totag,
      invalidUsers,
      msgid,
      ...(taskId === undefined ? {} : { taskId }),
      ...(responseCode === undefined ? {} : { responseCode }),
      body,
      receivedAt,
    });
    const reply: JsonReply = { ...OK, msgid };
    if (invalidUsers.length > 0) reply.invaliduser = invalidUsers.join("|");
    if (responseCode !== undefined) reply.response_code = responseCode;
    return reply;
  }

  function handleCardUpdate(url: URL, method: string, raw: string, receivedAt: number): JsonReply {
    const request = appRequest(url, method, raw, receivedAt);
    if ("errcode" in request) return request;
    const { issued, body, agentId } = request;

    const responseCode = body.response_code;
    const code = typeof responseCode === "string" ? responseCodes.get(responseCode) : undefined;
    if (typeof responseCode !== "string" || !code) return wecomError(40058, "invalid response_code");
    if (code.corpId !== issued.app.corpId || code.agentId !== agentId) {
      return wecomError(42015, "the app updating the card is not the app that sent it");
    }
    if (code.used) return wecomError(42022, "response_code has been used");
    if (receivedAt - code.issuedAt >= RESPONSE_CODE_TTL_MS) return wecomError(40058, "response_code expired");

    const userids = body.userids ?? [];
    const partyids = body.partyids ?? [];
    const tagids = body.tagids ?? [];
    if (!isStringArray(userids)) return wecomError(40058, "invalid userids");
    if (!isIntegerArray(partyids)) return wecomError(40058, "invalid partyids");
    if (!isIntegerArray(tagids)) return wecomError(40058, "invalid tagids");
    if (userids.length > 1000) return wecomError(40032, "invalid userids size");
    if (partyids.length > 100) return wecomError(82002, "invalid partyids size");
    if (tagids.length > 100) return wecomError(82003, "invalid tagids size");
    const atall = body.atall === 1 || body.atall === true;
    if (!atall && userids.length + partyids.length + tagids.length === 0) {
      return wecomError(82001, "All userids & partyids & tagids invalid");
    }

    let templateCard: Record<string, unknown> | undefined;
    let replaceName: string | undefined;
    if (body.template_card !== undefined) {
      if (!isObject(body.template_card)) return wecomError(40058, "invalid template_card");
      const error = templateCardError(body.template_card, true);
      if (error) return error;
      templateCard = body.template_card;
    }
    if (body.button !== undefined) {
      const button = body.button;
      if (!isObject(button) || typeof button.replace_name !== "string" || button.replace_name === "") {
        return wecomError(42020, "missing button replace_name");
      }
      replaceName = button.replace_name;
    }
    if (templateCard === undefined && replaceName === undefined) {
      return wecomError(40058, "button or template_card required");
    }

    code.used = true;
    cardUpdateLog.push({
      responseCode,
      taskId: code.taskId,
      ...(replaceName === undefined ? {} : { replaceName }),
      ...(templateCard === undefined ? {} : { templateCard }),
      userids,
      partyids,
      tagids,
      atall,
      body,
      receivedAt,
    });
    return OK;
  }

  // --- HTTP plumbing ---------------------------------------------------------------

  function answer(
    res: ServerResponse,
    record: RecordedRequest,
    status: number,
    body: string,
    type: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { ...headers, "content-type": type, "content-length": Buffer.byteLength(body) });
    res.end(body);
    let errcode: number | undefined;
    if (type.startsWith("application/json")) {
      const parsed = parseObject(body);
      if (parsed && typeof parsed.errcode === "number") errcode = parsed.errcode;
    }
    record.reply = errcode === undefined ? { httpStatus: status } : { httpStatus: status, errcode };
  }

  function applyFault(fault: FakeFault, req: IncomingMessage, res: ServerResponse, record: RecordedRequest): boolean {
    if (fault === "hang") {
      record.reply = "hang";
      return true;
    }
    if (fault === "reset") {
      record.reply = "reset";
      req.socket.resetAndDestroy();
      return true;
    }
    if ("delayMs" in fault) return false;
    if ("errcode" in fault) {
      const reply = fault.errmsg === undefined ? wecomError(fault.errcode, "injected error") : fault;
      answer(res, record, 200, JSON.stringify(reply), "application/json; charset=UTF-8");
      return true;
    }
    const body = fault.body ?? `<html><body><h1>${fault.httpStatus}</h1></body></html>`;
    answer(res, record, fault.httpStatus, body, fault.contentType ?? "text/html", fault.headers);
    return true;
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const receivedAt = now();
    const url = new URL(req.url ?? "/", "http://fake-wecom");
    const method = req.method ?? "GET";
    const endpoint = ENDPOINTS[url.pathname];
    const record: RecordedRequest = {
      endpoint: endpoint ?? "other",
      method,
      pathname: url.pathname,
      receivedAt,
      reply: "hang",
      injected: false,
    };
    if (endpoint === "robot") record.key = url.searchParams.get("key") ?? "";
    requestLog.push(record);

    if (!endpoint) {
      const reply = { errcode: 404, errmsg: `fake WeCom has no ${url.pathname}` };
      answer(res, record, 404, JSON.stringify(reply), "application/json; charset=UTF-8");
      return;
    }

    const fault = takeFault(endpoint);
    if (fault !== undefined) {
      record.injected = true;
      if (applyFault(fault, req, res, record)) return;
    }

    const respond = (): void => {
      let reply: JsonReply;
      if (endpoint === "robot") reply = handleRobot(url, method, raw, now());
      else if (endpoint === "gettoken") reply = handleGettoken(url, method);
      else if (endpoint === "card_update") reply = handleCardUpdate(url, method, raw, now());
      else reply = handleAppSend(url, method, raw, now());
      // A client that gave up on a slow answer does not undo the send, as with WeCom.
      if (req.socket.destroyed) record.reply = { httpStatus: 200, errcode: reply.errcode };
      else answer(res, record, 200, JSON.stringify(reply), "application/json; charset=UTF-8");
      notifyWaiters();
    };

    if (typeof fault === "object" && "delayMs" in fault) {
      const timer = setTimeout(() => {
        delays.delete(timer);
        respond();
      }, fault.delayMs);
      delays.add(timer);
    } else {
      respond();
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  function waitFor<T>(collect: () => T[], count: number, timeoutMs: number, what: string): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check() {
          const items = collect();
          if (items.length < count) return false;
          clearTimeout(timer);
          resolve(items);
          return true;
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        const errors = requestLog
          .filter((r) => typeof r.reply === "string" || r.reply.errcode !== 0)
          .map((r) => (typeof r.reply === "string" ? r.reply : `${r.reply.httpStatus}/${r.reply.errcode ?? "-"}`));
        reject(
          new Error(
            `fake WeCom: expected ${count} ${what} within ${timeoutMs} ms, got ${collect().length}` +
              (errors.length > 0 ? `; unsuccessful replies: ${errors.join(", ")}` : ""),
          ),
        );
      }, timeoutMs);
      if (!waiter.check()) waiters.add(waiter);
    });
  }

  const fake: FakeWeCom = {
    url: baseUrl,
    robotWebhook: (key) => `${baseUrl}/cgi-bin/webhook/send?key=${encodeURIComponent(key)}`,
    robotMessages: (key) => robotLog.filter((m) => key === undefined || m.key === key),
    appMessages: () => [...appLog],
    requests: (endpoint) => requestLog.filter((r) => endpoint === undefined || r.endpoint === endpoint),
    get gettokenCalls() {
      return gettokenCalls;
    },
    issuedTokens: () => [...issuedTokens],
    waitForRobotMessages(count, opts = {}) {
      const what = opts.key === undefined ? "robot messages" : `robot messages for key ${opts.key}`;
      return waitFor(() => fake.robotMessages(opts.key), count, opts.timeoutMs ?? 5000, what);
    },
    waitForAppMessages(count, opts = {}) {
      return waitFor(() => fake.appMessages(), count, opts.timeoutMs ?? 5000, "app messages");
    },
    cardUpdates: () => [...cardUpdateLog],
    waitForCardUpdates(count, opts = {}) {
      return waitFor(() => fake.cardUpdates(), count, opts.timeoutMs ?? 5000, "card updates");
    },
    clickResponseCode(taskId) {
      const card = appLog.findLast((m) => m.taskId === taskId && m.responseCode !== undefined);
      if (!card) throw new Error(`fake WeCom: no interactive card was sent with task_id ${taskId}`);
      return issueResponseCode(taskId, card.corpId, card.agentId, now());
    },
    failNext(n, fault, endpoint) {
      if (!Number.isInteger(n) || n < 1) throw new Error(`failNext needs a positive count, got ${n}`);
      faults.push(endpoint === undefined ? { remaining: n, fault } : { remaining: n, fault, endpoint });
    },
    setRobotRateLimit(max, perMs) {
      robotLimit = { max, perMs };
    },
    expireTokens() {
      for (const issued of tokens.values()) issued.expiresAt = Number.NEGATIVE_INFINITY;
    },
    revokeTokens() {
      tokens = new Map();
    },
    reset() {
      cancelDelays();
      robotLog = [];
      appLog = [];
      cardUpdateLog = [];
      taskIds = new Map();
      responseCodes = new Map();
      requestLog = [];
      faults = [];
      robotWindows = new Map();
      tokens = new Map();
      issuedTokens = [];
      gettokenCalls = 0;
    },
    async close() {
      cancelDelays();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return fake;
}

function parseObject(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isIntegerArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => Number.isInteger(item));
}

/** WeCom recipient fields are "id1|id2" strings. */
function splitIds(value: unknown): string[] {
  if (typeof value !== "string") return [];
  return value.split("|").filter((id) => id !== "");
}
