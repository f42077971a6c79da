import type { ProcessRequest, ProcessResult, ProcessRunner } from "@dwm/core";

export type FakeProcessHandler = (
  req: ProcessRequest,
) => Partial<ProcessResult> | Promise<Partial<ProcessResult>>;

/** Records every request and answers from a handler; no process is started. */
export class FakeProcessRunner implements ProcessRunner {
  readonly calls: ProcessRequest[] = [];
  constructor(private readonly handler: FakeProcessHandler = () => ({})) {}
  async run(req: ProcessRequest): Promise<ProcessResult> {
    this.calls.push(req);
    const r = await this.handler(req);
    return {
      exitCode: 0,
      signal: null,
      timedOut: false,
      spawnError: null,
      durationMs: 0,
      stdout: "",
      stderr: "",
      pid: null,
      ...r,
    };
  }
}
