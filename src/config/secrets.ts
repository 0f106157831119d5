// Keeps secret values out of error messages that quote config text.

/** Secrets this long are scrubbed wherever they appear, even inside other words. */
const SCRUB_ANYWHERE_LENGTH = 8;

/**
 * Replaces secrets with `***`. A short secret (a dev password such as `admin`) is replaced
 * only where it stands alone, so that it cannot garble the words of the message around it.
 */
export function scrubSecrets(text: string, secrets: string[]): string {
  return secrets.reduce((scrubbed, secret) => {
    const literal = secret.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const pattern = secret.length >= SCRUB_ANYWHERE_LENGTH ? literal : `(?<![A-Za-z0-9])${literal}(?![A-Za-z0-9])`;
    return scrubbed.replace(new RegExp(pattern, "g"), "***");
  }, text);
}
