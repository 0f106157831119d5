#!/usr/bin/env node
// wecom-relay serve | check | routes test | render. Exit codes: 0 ok, 1 invalid input or
// config, 2 usage error.
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { formatConfigError, type ConfigError } from "./config/errors.js";
import { parseListen } from "./listen.js";
import { logger, logLevelProblem, redactor } from "./log.js";
import { packageVersion } from "./paths.js";
import type { Relay } from "./relay.js";
import { isLoopback, printedTargetsBanner, unauthenticatedSources } from "./serve-notices.js";
import { loadRelay, startApp } from "./app.js";
import { isSourceName, sourceAdapters } from "./sources/index.js";
import { preview, PREVIEW_FORMATS } from "./render/preview.js";
import { parseJson, decodeUtf8 } from "./http/body.js";
import type { Format, Labels } from "./types.js";

const USAGE = `Usage:
  wecom-relay [serve] [--config FILE] [--listen HOST:PORT] [--data-dir DIR]
  wecom-relay check [--config FILE]
  wecom-relay routes test [--config FILE] [--expect RECEIVER,...] label=value ...
  wecom-relay render [--config FILE] --source SOURCE [--event GITHUB_EVENT] [--template NAME] [--format text|markdown|textcard] --payload FILE.json
  wecom-relay --version

Environment: WECOM_RELAY_CONFIG, WECOM_RELAY_LISTEN, WECOM_RELAY_DATA_DIR,
WECOM_RELAY_LOG_LEVEL (error, warn, info, debug or silent).
`;

class UsageError extends Error {}

const configOption = { config: { type: "string", short: "c" } } as const;

function parse<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function configFile(value: string | undefined): string {
  return value ?? process.env.WECOM_RELAY_CONFIG ?? "routes.yml";
}

function printErrors(errors: ConfigError[]): number {
  for (const error of errors) console.error(formatConfigError(error));
  console.error(`${errors.length} error${errors.length === 1 ? "" : "s"}`);
  return 1;
}

function check(args: string[]): number {
  const { values } = parse(args, configOption);
  const file = configFile(values.config);
  const built = loadRelay(file);
  if ("errors" in built) return printErrors(built.errors);
  const { config } = built.relay;
  for (const warning of built.relay.warnings) console.error(`warning: ${formatConfigError(warning)}`);
  console.log(
    `${file}: ok (${Object.keys(config.targets).length} targets, ${config.receivers.length} receivers, ${built.relay.templates.names().length} templates)`,
  );
  return 0;
}

function routesTest(args: string[]): number {
  const { values, positionals } = parse(args, { ...configOption, expect: { type: "string" } });
  const labels: Labels = {};
  for (const pair of positionals) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`expected label=value, got "${pair}"`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const built = loadRelay(configFile(values.config));
  if ("errors" in built) return printErrors(built.errors);
  const matches = built.relay.routes.match(labels);
  for (const match of matches) {
    const targets = built.relay.receiver(match.receiver)?.targets.join(",") ?? "";
    const mention = match.mention.length > 0 ? `\tmention=${match.mention.join(",")}` : "";
    console.log(`${match.receiver}\ttargets=${targets}\ttemplate=${match.template}\tformat=${match.format}${mention}\troute=${match.route}`);
  }
  if (values.expect !== undefined) {
    const got = matches.map((m) => m.receiver).join(",");
    if (got !== values.expect) {
      console.error(`expected receivers ${values.expect}, got ${got}`);
      return 1;
    }
  }
  return 0;
}

function render(args: string[]): number {
  const { values } = parse(args, {
    ...configOption,
    source: { type: "string" },
    event: { type: "string" },
    template: { type: "string" },
    format: { type: "string" },
    payload: { type: "string" },
  });
  if (!values.source || !values.payload) throw new UsageError("render needs --source and --payload");
  if (!isSourceName(values.source)) throw new UsageError(`unknown source "${values.source}" (one of ${Object.keys(sourceAdapters).join(", ")})`);
  if (values.format !== undefined && !PREVIEW_FORMATS.includes(values.format as Format)) {
    throw new UsageError(`--format must be ${PREVIEW_FORMATS.slice(0, -1).join(", ")} or ${PREVIEW_FORMATS.at(-1)}`);
  }
  if (values.source === "github" && !values.event) throw new UsageError("--source github needs --event (the X-GitHub-Event name, e.g. push)");
  const built = loadRelay(configFile(values.config));
  if ("errors" in built) return printErrors(built.errors);

  let body: unknown;
  try {
    body = parseJson(decodeUtf8(readFileSync(values.payload)));
  } catch (err) {
    console.error(`${values.payload}: ${(err as Error).message}`);
    return 1;
  }
  const result = preview(built.relay, {
    source: values.source,
    body,
    ...(values.event !== undefined && { event: values.event }),
    ...(values.template !== undefined && { template: values.template }),
    ...(values.format !== undefined && { format: values.format as Format }),
  });
  if (!result.ok) {
    console.error(result.error.startsWith("no template") ? result.error : `${values.payload}: ${result.error}`);
    return 1;
  }
  if (result.acknowledgedOnly) console.log("(no message: this event is acknowledged without one)");
  for (const fallback of result.fallbacks) console.error(`template ${fallback.template} failed: ${fallback.error}`);
  for (const part of result.parts) {
    const mention = part.mention.length ? ` mention=${part.mention.join(",")}` : "";
    const card = part.card ? ` title=${JSON.stringify(part.card.title)} url=${part.card.url}` : "";
    console.log(`--- receiver=${part.receiver} target=${part.target} msgtype=${part.msgtype} part=${part.part}/${part.parts} bytes=${part.bytes}${mention}${card}`);
    console.log(part.content);
  }
  return result.fallbacks.length > 0 ? 1 : 0;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parse(args, { ...configOption, listen: { type: "string" }, "data-dir": { type: "string" } });
  const file = configFile(values.config);
  const override = values.listen ?? process.env.WECOM_RELAY_LISTEN;
  let listenOverride: ReturnType<typeof parseListen> | undefined;
  try {
    listenOverride = override === undefined ? undefined : parseListen(override);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let started: Awaited<ReturnType<typeof startApp>>;
  try {
    started = await startApp({
      configFile: file,
      dataDir: values["data-dir"] ?? process.env.WECOM_RELAY_DATA_DIR ?? "data",
      ...(listenOverride && { listen: listenOverride }),
    });
  } catch (err) {
    // The outbox cannot be opened (data dir in use, database unreachable) or the address
    // is taken: say why, exit 1.
    console.error(`wecom-relay: cannot start: ${redactor.redact((err as Error).message)}`);
    return 1;
  }
  if ("errors" in started) return printErrors(started.errors);
  const { service, address } = started.app;
  logger.info("listening", { address: `${address.address}:${address.port}`, config: file });
  const host = listenOverride ? listenOverride.host : parseListen(service.relay.config.server.listen).host;
  announce(service.relay, host, address.port);

  process.on("SIGHUP", () => service.reload());
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info("shutting down: finishing sends in flight, keeping the rest queued", { signal });
      void started.app.stop().then(() => resolve(0));
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  });
}

/** The first-run banner, and a warning for each source open beyond this machine. */
function announce(relay: Relay, host: string | undefined, port: number): void {
  const printed = relay.printedTargets();
  const shownHost = host === undefined || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  if (printed.length > 0) console.error(printedTargetsBanner(printed, `http://${shownHost}:${port}`));
  if (isLoopback(host)) return;
  for (const source of unauthenticatedSources(relay.config.auth)) {
    logger.warn("listening beyond loopback with a source that accepts anyone: set its credentials under auth", { source });
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (argv.includes("--help") || argv.includes("-h")) {
      console.log(USAGE);
      return 0;
    }
    if (argv.includes("--version") || argv.includes("-V")) {
      console.log(packageVersion());
      return 0;
    }
    const levelProblem = logLevelProblem();
    if (levelProblem !== undefined) throw new UsageError(levelProblem);
    switch (command) {
      case undefined:
        return await serve([]);
      case "serve":
        return await serve(rest);
      case "check":
        return check(rest);
      case "routes":
        if (rest[0] !== "test") throw new UsageError(`unknown routes subcommand "${rest[0] ?? ""}" (expected "routes test")`);
        return routesTest(rest.slice(1));
      case "render":
        return render(rest);
      default:
        if (command.startsWith("-")) return await serve(argv);
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`wecom-relay: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

/** True when this file is the program being run (directly or through the `wecom-relay` bin link), not imported. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Nothing should keep the process alive now; if something does, do not hang a shutdown.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      logger.error("fatal error", { error: err });
      process.exitCode = 1;
    },
  );
}
