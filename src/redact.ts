// The one redactor: every secret the relay knows (from the config, and fetched at run time
// such as access tokens), in every spelling (bare, JSON-escaped, URL-encoded), and the
// credential forms of URLs and headers, are replaced before text leaves the process or is
// stored: log lines, API answers, stored errors, config errors.

export const REDACTED = "[REDACTED]";

/** Secrets this long are replaced wherever they appear, even inside other words. */
const ANYWHERE_LENGTH = 8;

// Credentials that travel in URLs and headers, replaced whether or not they are known.
const CREDENTIAL_PATTERNS: RegExp[] = [
  /(\b(?:key|access_token|corpsecret)=)[^&\s"'<>\\]+/gi,
  /(\bBearer\s+)[A-Za-z0-9._~+/=-]+/gi,
  /(\bBasic\s+)[A-Za-z0-9+/=]+/gi,
];

/** Replaces credentials in URL parameters and Authorization headers. */
export function redactCredentials(text: string): string {
  return CREDENTIAL_PATTERNS.reduce((out, pattern) => out.replace(pattern, `$1${REDACTED}`), text);
}

/**
 * Replaces each of `secrets` (longest first, so a secret containing another goes whole).
 * A short one (a dev password such as `admin`) only where it stands alone, so that it
 * cannot garble the words around it.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret === "") continue;
    if (secret.length >= ANYWHERE_LENGTH) {
      out = out.split(secret).join(REDACTED);
    } else {
      const literal = secret.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      out = out.replace(new RegExp(`(?<![A-Za-z0-9])${literal}(?![A-Za-z0-9])`, "g"), REDACTED);
    }
  }
  return out;
}

/** Every spelling of a secret that may show up in text: bare, JSON-escaped, URL-encoded (either hex case, or twice). */
function spellings(value: string): string[] {
  const encoded = encodeURIComponent(value);
  return [value, JSON.stringify(value).slice(1, -1), encoded, encoded.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()), encodeURIComponent(encoded)];
}

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
    this.secrets = [...new Set([...this.configSecrets, ...this.runtimeSecrets].flatMap(spellings))];
  }

  redact(text: string): string {
    return redactCredentials(redactSecrets(text, this.secrets));
  }
}

/** The process's redactor, kept up to date with the loaded config and fetched tokens. */
export const redactor = new Redactor();
