// Captures every log line the relay writes, at the given level, until `stop()`.
import { Writable } from "node:stream";
import winston from "winston";
import { addLogTransport, logger } from "../../src/log.js";

export function captureLogs(level = "debug"): { lines: string[]; stop: () => void } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const saved = { silent: logger.silent, level: logger.level };
  logger.silent = false;
  logger.level = level;
  const remove = addLogTransport(new winston.transports.Stream({ stream: sink }));
  // The console stays quiet while capturing: only the sink sees the lines.
  const console = logger.transports.find((t) => t instanceof winston.transports.Console);
  if (console) console.silent = true;
  return {
    lines,
    stop: () => {
      remove();
      if (console) console.silent = false;
      logger.silent = saved.silent;
      logger.level = saved.level;
    },
  };
}
