// Config problems as `check` prints them: "routes.yml:12: route.routes[1].matchers[0]: what is wrong".

export type ConfigPath = (string | number)[];

export interface ConfigError {
  file: string;
  /** 1-based line in `file`, when the problem can be pinned to one. */
  line?: number;
  /** Where in the config the problem is; empty for problems with the file as a whole. */
  path: ConfigPath;
  message: string;
}

/** Keys that read unambiguously after a dot; anything else is shown as ["key"]. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `route.routes[1].matchers[0]`, `targets["ops.app"].secret`. */
export function formatConfigPath(path: ConfigPath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) text += text === "" ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

export function formatConfigError(error: ConfigError): string {
  const location = error.line === undefined ? error.file : `${error.file}:${error.line}`;
  const path = formatConfigPath(error.path);
  return path === "" ? `${location}: ${error.message}` : `${location}: ${path}: ${error.message}`;
}
