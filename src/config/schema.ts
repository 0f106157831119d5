// The shape of routes.yml. Durations and sizes are converted to numbers here, so the
// rest of the program only sees milliseconds and bytes.
import { z } from "zod";
import { parseCidr } from "../http/client-address.js";
import { isPublicKeyPem } from "../http/jwt-keys.js";
import { parseListen } from "../listen.js";
import { parseBytes, parseDuration } from "./units.js";

function isListenAddress(text: string): boolean {
  try {
    parseListen(text);
    return true;
  } catch {
    return false;
  }
}

const duration = z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});

/** A window or timeout: zero would break the limiters and clients that use it. */
const positiveDuration = duration.refine((ms) => ms > 0, "must be longer than 0");

const byteSize = z.union([z.string(), z.number()]).transform((text, ctx) => {
  try {
    return parseBytes(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});

const name = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]+$/, "names may use letters, digits, _ . : - only");

const rateLimit = z.strictObject({
  max: z.number().int().positive(),
  per: positiveDuration,
});

const secret = z.string().min(1, "must not be empty");

/** WeCom's own limit for a group robot. */
const ROBOT_RATE = { max: 20, per: 60_000 };
/** App messages: WeCom allows 30 a minute to one member; stay under it. */
const APP_RATE = { max: 30, per: 60_000 };

const credentialFields = {
  bearer_token: secret.optional(),
  basic_auth: z.strictObject({ username: z.string().min(1), password: secret }).optional(),
};

const cidr = z.string().refine((text) => parseCidr(text) !== undefined, "must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8");

/** Client addresses let in (allow) or kept out (deny); a request outside them gets 403 before its body is read. */
const addressLists = {
  allow: z.array(cidr).min(1, "must list at least one address or CIDR (leave allow out to let every address in)").optional(),
  deny: z.array(cidr).optional(),
};

/**
 * JWTs on the trigger API, verified with one key: a JWKS URL (cached, fetched again for an
 * unknown kid), a PEM public key, or an HMAC secret (its UTF-8 bytes). iss and aud are required.
 */
const jwtAuth = z
  .strictObject({
    jwks_url: z.url().optional(),
    public_key: z.string().refine(isPublicKeyPem, "must be a PEM public key (RSA, EC P-256/P-384/P-521 or Ed25519) or certificate").optional(),
    secret: z.string().min(32, "must be at least 32 characters (HS256 needs a 256-bit key)").optional(),
    issuer: z.string().min(1),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  })
  .refine((jwt) => [jwt.jwks_url, jwt.public_key, jwt.secret].filter((key) => key !== undefined).length === 1, {
    message: "give exactly one of jwks_url, public_key or secret",
  });

const oneCredential = (auth: { bearer_token?: string | undefined; basic_auth?: unknown }) =>
  !(auth.bearer_token !== undefined && auth.basic_auth !== undefined);
const oneCredentialMessage = { message: "use bearer_token or basic_auth, not both" };

/** Inbound credentials: a bearer token or basic auth (none configured: open), and address lists. */
const bearerOrBasic = z.strictObject({ ...credentialFields, ...addressLists }).refine(oneCredential, oneCredentialMessage);

/** The trigger API also takes JWTs, beside (or instead of) the static credentials. */
const apiAuth = z.strictObject({ ...credentialFields, ...addressLists, jwt: jwtAuth.optional() }).refine(oneCredential, oneCredentialMessage);

/** Grafana may also sign bodies: lower-case hex HMAC-SHA256, optionally over "<ts>:<body>". */
const grafanaAuth = z
  .strictObject({
    ...credentialFields,
    ...addressLists,
    hmac: z
      .strictObject({
        secret,
        header: z.string().min(1).default("X-Grafana-Alerting-Signature"),
        timestamp_header: z.string().min(1).optional(),
      })
      .optional(),
  })
  .refine(oneCredential, oneCredentialMessage);

const robotTarget = z.strictObject({
  type: z.literal("robot"),
  /**
   * A full webhook URL (used as written, host included), or just the key (sent to
   * wecom.api_base). Left out (e.g. an empty `${VAR:-}`): messages are printed, not sent.
   */
  webhook: secret.optional(),
  rate_limit: rateLimit.default(ROBOT_RATE),
});

/** Prints each message as WeCom would receive it from a robot; sends nothing. */
const logTarget = z.strictObject({
  type: z.literal("log"),
  /** Paced like the robot it stands in for. */
  rate_limit: rateLimit.default(ROBOT_RATE),
});

const recipients = z.union([z.literal("@all"), z.array(z.string().min(1)).min(1)]);

const appTarget = z.strictObject({
  type: z.literal("app"),
  corp_id: z.string().min(1),
  secret,
  agent_id: z.number().int().positive(),
  to_user: recipients.optional(),
  to_party: recipients.optional(),
  to_tag: recipients.optional(),
  rate_limit: rateLimit.default(APP_RATE),
  callback: z
    .strictObject({
      token: secret,
      aes_key: z.string().regex(/^[A-Za-z0-9+/]{43}$/, "must be the 43-character EncodingAESKey (letters, digits, + and /)"),
    })
    .optional(),
});

/** Where silences are created: Alertmanager's API v2. */
const alertmanagerApi = z
  .strictObject({
    url: z.url(),
    ...credentialFields,
    timeout: positiveDuration.default(10_000),
  })
  .refine(oneCredential, oneCredentialMessage);

/** Grafana-managed alerts are silenced through Grafana's Alertmanager-compatible API. */
const grafanaApi = z.strictObject({
  url: z.url(),
  /** A service account token allowed to create silences. */
  token: secret,
  timeout: positiveDuration.default(10_000),
});

/** A silence length offered on cards and action pages: its label as written, and its length. */
const silenceLength = z.string().transform((text, ctx) => {
  try {
    const ms = parseDuration(text);
    if (ms >= 60_000 && ms <= 30 * 86_400_000) return { label: text.trim(), ms };
    ctx.addIssue({ code: "custom", message: "a silence must last between 1m and 30d" });
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
  return z.NEVER;
});

const actions = z.strictObject({
  /** Base URL of this relay as people's phones reach it; action links in messages start with it. */
  public_url: z.url().optional(),
  /** Signs action links (at least 16 characters). */
  secret: z.string().min(16, "must be at least 16 characters").optional(),
  /** The silence buttons, in order. A card holds six buttons: Ack and at most five of these. */
  silence_for: z.array(silenceLength).min(1).max(5).prefault(["1h", "4h", "24h"]),
});

export const formatSchema = z.enum(["text", "markdown", "textcard", "card"]);

export interface RouteNodeConfig {
  receiver?: string | undefined;
  matchers?: string[] | undefined;
  continue?: boolean | undefined;
  format?: "text" | "markdown" | "textcard" | "card" | undefined;
  template?: string | undefined;
  mention?: string[] | undefined;
  routes?: RouteNodeConfig[] | undefined;
}

const routeNode: z.ZodType<RouteNodeConfig> = z.lazy(() =>
  z.strictObject({
    receiver: name.optional(),
    matchers: z.array(z.string()).optional(),
    continue: z.boolean().optional(),
    format: formatSchema.optional(),
    template: z.string().regex(/^[A-Za-z0-9_-]+$/, "template names may use letters, digits, _ - only").optional(),
    mention: z.array(z.string().min(1)).optional(),
    routes: z.array(routeNode).optional(),
  }),
);

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      listen: z
        .string()
        .refine((text) => isListenAddress(text), "must be HOST:PORT or :PORT, e.g. :8080 or 127.0.0.1:8080")
        .default(":8080"),
      max_body: byteSize.default(1024 * 1024),
      rate_limit: z.strictObject({ per_ip: z.number().int().positive(), per: positiveDuration }).optional(),
      /**
       * Addresses or CIDRs of reverse proxies in front of the relay: from them, the client
       * address is taken from X-Forwarded-For (for the per-client rate limit).
       */
      trust_proxy: z.array(cidr).optional(),
      /** Only these client addresses may send anything (403 for the others); deny wins over allow. */
      ...addressLists,
      /** Bodies held in memory at once, over every request being read or handled (503 past it). */
      max_buffered: byteSize.default(32 * 1024 * 1024),
      /** Open connections at once; more are refused by the OS queue. Read at start. */
      max_connections: z.number().int().positive().default(1024),
      /** A client must send its headers within this long. Read at start. */
      header_timeout: positiveDuration.default(5_000),
      /** The whole request, body included. Read at start. */
      request_timeout: positiveDuration.default(30_000),
      /** An idle keep-alive connection is closed after this long. Read at start. */
      keep_alive_timeout: positiveDuration.default(5_000),
    })
    .prefault({}),
  wecom: z
    .strictObject({
      api_base: z.url().default("https://qyapi.weixin.qq.com"),
      /** One HTTP request to WeCom may take at most this long. */
      timeout: positiveDuration.default(10_000),
    })
    .prefault({}),
  templates: z
    .strictObject({
      /** Folder of user templates; defaults shipped with the relay fill the gaps. */
      dir: z.string().default("templates"),
      /** IANA zone for dates in messages. */
      timezone: z.string().default("Asia/Shanghai"),
    })
    .prefault({}),
  delivery: z
    .strictObject({
      /** A message not accepted by WeCom within this long is dead-lettered. */
      max_age: duration.default(3_600_000),
      /** HTTP sends in flight at once, over all targets. */
      concurrency: z.number().int().positive().default(8),
      /** First retry delay; doubles each attempt, with jitter. */
      retry_initial: duration.default(1000),
      retry_max: duration.default(60_000),
      /** Merge a target's backlog into digests once it would take longer than this to drain. */
      coalesce_after: duration.default(30_000),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** sqlite: a file under --data-dir, one process. postgres: one outbox for several replicas. */
      driver: z.enum(["sqlite", "postgres"]).default("sqlite"),
      /** postgres://user:pass@host:5432/db (postgres only). */
      url: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional(),
      /** A dead replica's targets are taken over within this long. */
      lease: positiveDuration.default(15_000),
    })
    .refine((storage) => storage.driver !== "postgres" || storage.url !== undefined, { message: "driver postgres needs url", path: ["url"] })
    .refine((storage) => storage.driver !== "sqlite" || storage.url === undefined, { message: "url is for driver postgres only", path: ["url"] })
    .prefault({}),
  auth: z
    .strictObject({
      alertmanager: bearerOrBasic.optional(),
      grafana: grafanaAuth.optional(),
      github: z.strictObject({ secret: secret.optional(), ...addressLists }).optional(),
      api: apiAuth.optional(),
    })
    .prefault({}),
  /** OpenTelemetry spans over OTLP/HTTP; absent: nothing of the SDK is loaded. Read at start. */
  tracing: z
    .strictObject({
      /** The collector's base URL (as OTEL_EXPORTER_OTLP_ENDPOINT): spans go to /v1/traces under it. */
      otlp_endpoint: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL (OTLP/HTTP)" }),
      /** Share of new traces kept; a sender's traceparent decides for the traces it started. */
      sample_ratio: z.number().min(0).max(1).default(1),
    })
    .optional(),
  alertmanager: alertmanagerApi.optional(),
  grafana: grafanaApi.optional(),
  /** The web console at /ui: where its pages link to the matching Grafana dashboard panel. */
  console: z
    .strictObject({
      grafana_url: z.url().optional(),
      dashboard_uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, "a Grafana dashboard uid").default("wecom-relay"),
    })
    .prefault({}),
  actions: actions
    .refine((a) => (a.public_url === undefined) === (a.secret === undefined), { message: "public_url and secret go together: links are signed with the secret" })
    .optional(),
  targets: z.record(name, z.discriminatedUnion("type", [robotTarget, appTarget, logTarget])),
  receivers: z
    .array(
      z.strictObject({
        name,
        targets: z.array(name).min(1),
        throttle: rateLimit.optional(),
      }),
    )
    .min(1),
  route: routeNode,
});

export type Config = z.output<typeof configSchema>;
export type TargetConfig = Config["targets"][string];
export type RobotTargetConfig = z.output<typeof robotTarget>;
export type AppTargetConfig = z.output<typeof appTarget>;
export type LogTargetConfig = z.output<typeof logTarget>;
export type ReceiverConfig = Config["receivers"][number];
export type RateLimit = z.output<typeof rateLimit>;
export type InboundCredentials = z.output<typeof bearerOrBasic>;
export type ApiAuthConfig = z.output<typeof apiAuth>;
export type JwtConfig = z.output<typeof jwtAuth>;
export type AddressRules = { allow?: string[] | undefined; deny?: string[] | undefined };
export type AlertmanagerApiConfig = z.output<typeof alertmanagerApi>;
export type GrafanaApiConfig = z.output<typeof grafanaApi>;
export type ActionsConfig = z.output<typeof actions>;
export type TracingConfig = NonNullable<Config["tracing"]>;
