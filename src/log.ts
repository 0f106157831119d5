// JSON-lines logging (winston) with secret redaction applied to every line, so a secret
// that slips into a message, an error or a field never reaches the output. The same
// redactor cleans what the outbox stores and the API answers.
import winston from "winston";

const REDACTED = "[REDACTED]";

/** Secrets below this length are not scrubbed: they would mangle ordinary words. */
const MIN_SECRET_LENGTH = 6;

// Credentials that travel in URLs and headers, scrubbed whether or not they are known.
const CREDENTIAL_PATTERNS: RegExp[] = [
  /(\b(?:key|access_token|corpsecret)=)[^&\s"'\\]+/gi,
  /(\bBearer\s+)[A-Za-z0-9._~+/=-]+/gi,
  /(\bBasic\s+)[A-Za-z0-9+/=]+/gi,
];

/** Fetched tokens remembered for scrubbing; older ones have long expired. */
const MAX_RUNTIME_SECRETS = 256;

export class Redactor {
  private configSecrets: string[] = [];
  private runtimeSecrets: string[] = [];
  private secrets: string[] = [];

  /** Replaces the secrets from the config (on every load and reload). */
  setSecrets(values: Iterable<string>): void {
    this.configSecrets = [...values];
    this.rebuild();
  }

  /** Adds a secret learnt at run time, such as a fetched access token; survives reloads. */
  addSecret(value: string): void {
    this.runtimeSecrets = [...this.runtimeSecrets.filter((known) => known !== value), value].slice(-MAX_RUNTIME_SECRETS);
    this.rebuild();
  }

  private rebuild(): void {
    const unique = new Set<string>();
    for (const value of [...this.configSecrets, ...this.runtimeSecrets]) {
      if (value.length < MIN_SECRET_LENGTH) continue;
      unique.add(value);
      // Also catch the JSON- and URL-escaped spellings of the same value (either hex case).
      unique.add(JSON.stringify(value).slice(1, -1));
      const encoded = encodeURIComponent(value);
      unique.add(encoded);
      unique.add(encoded.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()));
      unique.add(encodeURIComponent(encoded));
    }
    // Longest first, so a secret containing another is replaced whole.
    this.secrets = [...unique].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join(REDACTED);
    for (const pattern of CREDENTIAL_PATTERNS) out = out.replace(pattern, `$1${REDACTED}`);
    return out;
  }
}

export const redactor = new Redactor();

/** Serialises the line, then scrubs the serialised text: nothing nested escapes it. */
const redactedJson = winston.format((info) => {
  const { level, message, ...rest } = info;
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...rest }, errorReplacer);
  info[Symbol.for("message")] = redactor.redact(line);
  return info;
});

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/** What WECOM_RELAY_LOG_LEVEL may say. */
export const LOG_LEVELS = ["error", "warn", "info", "debug", "silent"] as const;

/** Why WECOM_RELAY_LOG_LEVEL cannot be used, or undefined when it can (or is unset). */
export function logLevelProblem(value: string | undefined = process.env.WECOM_RELAY_LOG_LEVEL): string | undefined {
  if (value === undefined || (LOG_LEVELS as readonly string[]).includes(value)) return undefined;
  return `WECOM_RELAY_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`;
}

// An invalid level is reported by the CLI before anything runs; "info" until then.
const configuredLevel = process.env.WECOM_RELAY_LOG_LEVEL;
const level = configuredLevel !== undefined && logLevelProblem(configuredLevel) === undefined ? configuredLevel : "info";

export const logger = winston.createLogger({
  level: level === "silent" ? "error" : level,
  silent: level === "silent",
  format: redactedJson(),
  transports: [new winston.transports.Console()],
});

/** Sends every log line to `transport` as well; returns a function that undoes it. */
export function addLogTransport(transport: winston.transport): () => void {
  logger.add(transport);
  return () => logger.remove(transport);
}
