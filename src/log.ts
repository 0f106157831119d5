// JSON-lines logging (winston) with secret redaction applied to every line, so a secret
// that slips into a message, an error or a field never reaches the output. The same
// redactor cleans what the outbox stores and the API answers.
import winston from "winston";
import { redactor } from "./redact.js";

export { Redactor, redactor } from "./redact.js";

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
