// How `npm start` shows the services' logs. The services always write JSON lines (what a log
// collector wants); a person at a terminal gets them through pino's pretty printer instead.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

/**
 * pino-pretty's line formatter: time, coloured level, `<service> | <message>`, then the line's
 * other fields (request ids, ports, errors) indented below. Undefined when pino-pretty is not
 * installed (an install without devDependencies): the JSON is shown as it is.
 */
export function prettyFormatter({ colorize = true } = {}) {
  let pinoPretty;
  try {
    pinoPretty = createRequire(import.meta.url)('pino-pretty');
  } catch {
    return undefined;
  }
  return pinoPretty.prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    // Who wrote the line is in the message prefix; pid, host and version add only noise here.
    ignore: 'pid,hostname,service,version',
    messageFormat: '{service} | {msg}',
  });
}

/**
 * Writes every line of `input` to `output` through `format`. Whole lines only, so the output of
 * two services never interleaves within a line. A line that is not JSON passes unchanged.
 */
export function copyLines(input, output, format) {
  createInterface({ input, crlfDelay: Infinity }).on('line', (line) => {
    output.write(format(line));
  });
}
