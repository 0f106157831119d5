// The one composition root: builds every part of a running relay once (metrics, token
// cache, config, outbox, delivery engine, service, HTTP) and hands each the narrow part it
// uses. The CLI and the tests start the relay through here, so they run the same wiring.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Actions } from "./actions/actions.js";
import { TokenCache } from "./channels/wecom/token.js";
import type { ConfigError } from "./config/errors.js";
import { loadConfigFile } from "./config/load.js";
import { Dispatcher, type DispatcherDeps } from "./delivery/dispatcher.js";
import { createHttpServer } from "./http/http-server.js";
import { parseListen } from "./listen.js";
import { createMetrics } from "./metrics.js";
import { openStore } from "./outbox/open.js";
import { packageVersion } from "./paths.js";
import { bestEffortErrors, Relay, type RelayDeps } from "./relay.js";
import { createApp } from "./server.js";
import { dispatcherOptions, Service } from "./service.js";
import { startTracer } from "./tracing/tracer.js";

/** Loads a config file and builds a Relay from it; every error carries file:line. */
export function loadRelay(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  deps: RelayDeps = { tokens: new TokenCache() },
): { relay: Relay } | { errors: ConfigError[] } {
  const result = loadConfigFile(file, env);
  if ("errors" in result) {
    const later = result.partial ? bestEffortErrors(result.partial, file, result.errors) : [];
    return { errors: [...result.errors, ...later] };
  }
  return Relay.build(result.loaded, deps);
}

export interface AppOptions {
  configFile: string;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  /** Where to listen instead of the config's `server.listen` (host undefined: every address). */
  listen?: { host: string | undefined; port: number };
  /** Clock, lease and holder overrides for the delivery engine (tests). */
  delivery?: DispatcherDeps;
}

export interface RunningApp {
  service: Service;
  server: Server;
  /** The address the server listens on (the port chosen by the system for port 0). */
  address: AddressInfo;
  /** Stops taking requests, finishes sends in flight and closes the outbox. */
  stop(): Promise<void>;
}

/** Builds the service; an outbox that cannot be opened throws (data dir in use, database down). */
export async function startService(options: AppOptions): Promise<{ service: Service; actions: Actions } | { errors: ConfigError[] }> {
  const env = options.env ?? process.env;
  const metrics = createMetrics();
  const deps: RelayDeps = { tokens: new TokenCache(), metrics };
  const built = loadRelay(options.configFile, env, deps);
  if ("errors" in built) return built;
  const { storage } = built.relay.config;
  const store = await openStore(storage, options.dataDir);
  // The OpenTelemetry SDK is loaded here only when `tracing` is configured.
  const tracer = await startTracer(built.relay.config.tracing, packageVersion());
  const dispatcher = new Dispatcher(store, metrics, dispatcherOptions(built.relay), { leaseMs: storage.lease, tracer, ...options.delivery });
  let relay = (): Relay => built.relay;
  const actions = new Actions({
    log: store.actions,
    metrics,
    now: () => Date.now(),
    config: () => relay().config,
    channel: (target) => relay().targets.get(target)?.channel,
  });
  const service = new Service({
    relay: built.relay,
    store,
    dispatcher,
    metrics,
    tracer,
    configFile: options.configFile,
    load: () => loadRelay(options.configFile, env, deps),
    onResolved: (groups) => actions.resolved(groups),
  }).start();
  relay = () => service.relay;
  return { service, actions };
}

/** Starts the whole relay: the service, then the HTTP server on its listen address. */
export async function startApp(options: AppOptions): Promise<{ app: RunningApp } | { errors: ConfigError[] }> {
  const started = await startService(options);
  if ("errors" in started) return started;
  const { service, actions } = started;
  const { server: serverConfig } = service.relay.config;
  const listen = options.listen ?? parseListen(serverConfig.listen);
  const server = createHttpServer(createApp(service, actions), serverConfig);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve).once("error", reject);
      if (listen.host === undefined) server.listen(listen.port);
      else server.listen(listen.port, listen.host);
    });
  } catch (err) {
    await service.stop();
    throw err;
  }
  const stop = async () => {
    server.close();
    server.closeIdleConnections();
    await service.stop();
  };
  return { app: { service, server, address: server.address() as AddressInfo, stop } };
}
