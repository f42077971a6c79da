import type { AttemptRequest, WorkerBinding } from "@dwm/schemas";
import { executorErrors } from "../errors.js";
import { checkBinding, type Permissions } from "./backends.js";
import { safeName } from "./fs-evidence.js";
import { INPUTS_DIR } from "./inputs.js";

/** One invocation an attempt makes: a worker of the packet through its bound backend, or the packet's command. */
export interface Job {
  index: number;
  workerId: string;
  role: string;
  binding: WorkerBinding;
  /** null for a packet's own `command` (no worker, no permissions to enforce). */
  permissions: Permissions | null;
  ownership: string[];
  /** Its folder in the attempt directory: `workers/<n>-<worker>`. */
  dir: string;
}

/** A 0.6 command phase: the packet's command is the work, run through the shell backend. */
function commandJob(c: NonNullable<AttemptRequest["packet"]["command"]>): Job {
  const timeout = c.timeout_ms === undefined ? {} : { timeout_ms: c.timeout_ms };
  const binding: WorkerBinding =
    "argv" in c
      ? { backend: "shell", argv: c.argv, ...timeout }
      : { backend: "shell", shell: true, command: c.script, ...timeout };
  return {
    index: 1,
    workerId: "command",
    role: "command",
    binding,
    permissions: null,
    ownership: [],
    dir: "workers/1-command",
  };
}

/** The invocations of an attempt, in order, each with its checked binding (throws before anything runs). */
export function jobsOf(request: AttemptRequest): Job[] {
  const packet = request.packet;
  if (packet.command !== undefined) return [commandJob(packet.command)];
  return packet.workers.map((w, i) => {
    const binding = request.binding.workers[w.id] ?? request.binding.workers["*"];
    if (binding === undefined) {
      throw executorErrors.create(
        "ERR_EXEC_NO_BINDING",
        `no backend is bound to worker ${JSON.stringify(w.id)}`,
        {
          details: { worker_id: w.id, packet_id: packet.packet_id },
        },
      );
    }
    checkBinding(w.id, binding);
    return {
      index: i + 1,
      workerId: w.id,
      role: w.role,
      binding,
      permissions: w.tool_permissions,
      ownership: w.ownership,
      dir: `workers/${i + 1}-${safeName(w.id)}`,
    };
  });
}

/** The prompt one job gets: the packet prompt, the repair context, the handoff inputs, and who it is when there are several. */
export function promptFor(request: AttemptRequest, job: Job, jobCount: number): string {
  let text = request.prompt.endsWith("\n") ? request.prompt : `${request.prompt}\n`;
  if (request.repair_context !== null) text += `\n${request.repair_context.replace(/\n*$/, "\n")}`;
  if (request.inputs.length > 0) {
    text += `\n## Handoff inputs\n\nDWM copied these into \`${INPUTS_DIR}/\` of the working directory (read them; do not edit or commit them):\n\n`;
    for (const i of request.inputs) text += `- \`${INPUTS_DIR}/${i.artifact}\` (${i.digest})\n`;
  }
  if (jobCount > 1) text += `\n## This invocation\n\nYou are worker \`${job.workerId}\` (${job.role}).\n`;
  return text;
}
