import type { PreparedSpawn, ProcessRequest, Sandbox, SandboxProbe, SandboxView } from "@dwm/core";

/** One `prepare` call a FakeSandbox saw. */
export interface FakeSandboxCall {
  request: ProcessRequest;
  view: SandboxView;
  disposed: boolean;
}

/**
 * A Sandbox that isolates nothing: it records every view it is asked for and, so a test can
 * see that the request went through it, prefixes argv with `prefix` (default none). `probe`
 * answers what the constructor was given.
 */
export class FakeSandbox implements Sandbox {
  readonly name = "fake";
  /** The process runs on the host: paths handed to it are host paths. */
  readonly isolates = false;
  readonly calls: FakeSandboxCall[] = [];
  constructor(private readonly options: { prefix?: readonly string[]; probe?: Partial<SandboxProbe> } = {}) {}

  async probe(): Promise<SandboxProbe> {
    return { ok: true, name: this.name, version: null, reason: null, ...this.options.probe };
  }

  async prepare(request: ProcessRequest, view: SandboxView): Promise<PreparedSpawn> {
    const call: FakeSandboxCall = { request, view, disposed: false };
    this.calls.push(call);
    return {
      request: { ...request, argv: [...(this.options.prefix ?? []), ...request.argv] },
      dispose: async () => {
        call.disposed = true;
      },
    };
  }
}
