import { PassThrough } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { CommandContext } from "../../command.js";
import { handshakeStep } from "./handshake.js";
import { PREBUILT } from "./prebuilt-tools.js";

/** A handshake message as the SDK server is given it: a request under an id no client uses, noted in `answered`. */
function replayLine(m: Record<string, unknown>, answered: string[]): string {
  if (!("id" in m)) return `${JSON.stringify(m)}\n`;
  const id = `\u0000dwm-mcp-front-${answered.length}`;
  answered.push(id);
  return `${JSON.stringify({ ...m, id })}\n`;
}

/**
 * `dwm mcp` on stdin/stdout until stdin ends. With the handshake the build computed (the bundled
 * `dwm`), its lines are answered here, without the SDK; the first line that is anything else
 * starts the SDK server, which is given the handshake's initialize and initialized first and
 * then every byte from that line on. The initialize it is given carries an id of the front's own
 * (a client may use the initialize's id again once answered), and its answer is not sent: the
 * client has it. Without the build's handshake (the per-package dist) the SDK server answers
 * everything.
 */
export async function serveStdioFront(ctx: CommandContext): Promise<void> {
  const pre = PREBUILT;
  if (pre === null) return (await import("./server.js")).serveStdio(ctx);
  const stdin = process.stdin;
  const decoder = new StringDecoder("utf8");
  const replay: string[] = [];
  const answered: string[] = [];
  let pending = "";
  return new Promise<void>((resolve, reject) => {
    const handOver = (rest: string) => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.pause();
      const input = new PassThrough();
      input.write(replay.join(""));
      input.write(rest);
      // Bytes of a character split at the chunk's end, still in the decoder.
      const tail = decoder.end();
      if (tail) input.write(tail);
      import("./server.js")
        .then(({ serveStdio }) => {
          const served = serveStdio(ctx, {}, { input, answered });
          stdin.pipe(input);
          return served;
        })
        .then(resolve, reject);
    };
    const onData = (chunk: Buffer) => {
      pending += decoder.write(chunk);
      for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
        const line = pending.slice(0, nl + 1);
        const step = handshakeStep(line.slice(0, -1).replace(/\r$/, ""), pre);
        if (step === null) return handOver(pending);
        pending = pending.slice(nl + 1);
        if (step.reply !== null) process.stdout.write(step.reply);
        if (step.replay !== null) replay.push(replayLine(step.replay, answered));
      }
    };
    const onEnd = () => resolve();
    stdin.on("data", onData);
    stdin.once("end", onEnd);
  });
}
