/** Splits ":8080", "0.0.0.0:8080" or "[::1]:8080" into host (undefined = all) and port. */
export function parseListen(text: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`invalid listen address "${text}" (expected HOST:PORT or :PORT)`);
  const host = match[1] ?? match[2];
  return { host: host ? host : undefined, port };
}
