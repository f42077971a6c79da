// `dwm run` (the built bin) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP receiver on
// loopback (a random port, stopped by the test): what arrived is decoded and checked as a span
// tree; a worker sees the run's TRACEPARENT; a collector that is down or never answers drops
// spans, counted, and the run ends as it would without one.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { git } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { auditRepo, exited, runDir, startDwm } from "../test-support/built-cli.js";

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values: OtlpValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: OtlpValue }[];
}
interface Span {
  traceId: string;
  spanId: string;
  parent: string | null;
  name: string;
  attrs: Record<string, unknown>;
}

function decoded(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return v.arrayValue.values.map(decoded);
  return undefined;
}

/** A loopback OTLP/HTTP receiver: what it was sent, decoded; `hang` accepts and never answers. */
async function receiver(mode: "ok" | "hang" = "ok") {
  const requests: { url: string; contentType: string; body: unknown }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({
        url: req.url ?? "",
        contentType: req.headers["content-type"] ?? "",
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
      });
      if (mode === "ok") res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
    spans(): { service: unknown; spans: Span[] } {
      let service: unknown;
      const spans: Span[] = [];
      for (const r of requests) {
        for (const rs of (r.body as { resourceSpans: Record<string, unknown>[] }).resourceSpans) {
          const res = rs.resource as { attributes: { key: string; value: OtlpValue }[] };
          service = decoded(res.attributes.find((a) => a.key === "service.name")?.value ?? {});
          for (const ss of rs.scopeSpans as { spans: OtlpSpan[] }[]) {
            for (const s of ss.spans) {
              spans.push({
                traceId: s.traceId,
                spanId: s.spanId,
                parent: s.parentSpanId || null,
                name: s.name,
                attrs: Object.fromEntries(s.attributes.map((a) => [a.key, decoded(a.value)])),
              });
            }
          }
        }
      }
      return { service, spans };
    },
  };
}

/** What the inventory worker printed, from its attempt's evidence. */
function workerStdout(repo: string): string {
  return fs.readFileSync(
    path.join(runDir(repo), "attempts", "inventory", "1", "workers", "1-inventory-worker", "stdout"),
    "utf8",
  );
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("dwm run exports its trace over OTLP/HTTP", () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  /** The audit example whose inventory worker prints the TRACEPARENT it was given. */
  function repoWithTracedWorker(): string {
    const repo = auditRepo(cleanups).path;
    const script = path.join(repo, "scripts", "inventory.mjs");
    fs.appendFileSync(script, 'console.log("TRACEPARENT=" + (process.env.TRACEPARENT ?? "none"));\n');
    git(repo, "commit", "-qam", "print the trace context");
    return repo;
  }

  it("sends one trace: the run, its packets with attempts, checks, reviews and merges, and the gate it waits at", async () => {
    const rx = await receiver();
    cleanups.push(rx.close);
    const repo = repoWithTracedWorker();
    const child = startDwm(repo, ["run", "workflow.plan.json", "--ndjson"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_SERVICE_NAME: "dwm-under-test",
      OTEL_BSP_SCHEDULE_DELAY: "200",
    });
    expect(await exited(child), child.out.join("\n")).toBe(4);

    // Nothing was dropped (the note would count it).
    const note = child.out
      .map((l) => JSON.parse(l.startsWith("stderr: ") ? "{}" : l))
      .find((l) => l.kind === "note" && String(l.message).startsWith("traces:"));
    expect(note?.message).not.toMatch(/dropped/);
    expect(rx.requests.length).toBeGreaterThan(0);
    for (const r of rx.requests) {
      expect(r.url).toBe("/v1/traces");
      expect(r.contentType).toMatch(/^application\/json/);
    }
    const { service, spans } = rx.spans();
    expect(service).toBe("dwm-under-test");
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    const runs = spans.filter((s) => s.name === "dwm.run");
    expect(runs).toHaveLength(1);
    const run = runs[0] as Span;
    expect(run.parent).toBeNull();
    expect(run.attrs).toMatchObject({
      "dwm.plan.id": "repo-audit",
      "dwm.run.status": "gate",
      "process.exit.code": 4,
    });

    const packets = spans.filter((s) => s.name === "dwm.packet");
    expect(packets.map((p) => p.attrs["dwm.packet.id"]).sort()).toEqual(
      ["human_gate", "inventory", "report", "scan_docs", "scan_lib", "scan_src"].sort(),
    );
    for (const p of packets) expect(p.parent).toBe(run.spanId);
    const byPacket = (id: string) => packets.find((p) => p.attrs["dwm.packet.id"] === id) as Span;
    const under = (parent: Span, name: string) =>
      spans.filter((s) => s.parent === parent.spanId && s.name === name);
    for (const id of ["inventory", "scan_src", "scan_docs", "scan_lib", "report"]) {
      const p = byPacket(id);
      expect(p.attrs["dwm.packet.state"]).toBe("completed");
      const [attempt] = under(p, "dwm.attempt");
      expect(attempt?.attrs).toMatchObject({
        "dwm.packet.id": id,
        "dwm.attempt.number": 1,
        "dwm.backend": "shell",
        "dwm.attempt.outcome": "ok",
        "process.exit.code": 0,
      });
      expect(under(p, "dwm.review").map((r) => r.attrs["dwm.review.verdict"])).toEqual(["approved"]);
      expect(under(p, "dwm.integration").map((r) => r.attrs["dwm.integration.result"])).toEqual(["merged"]);
      expect(under(attempt as Span, "dwm.check").every((c) => c.attrs["dwm.check.passed"] === true)).toBe(
        true,
      );
    }
    expect(spans.filter((s) => s.name === "dwm.check").length).toBeGreaterThan(0);
    const gates = spans.filter((s) => s.name === "dwm.gate.wait");
    expect(gates.map((g) => [g.attrs["dwm.gate.id"], g.attrs["dwm.gate.decision"], g.parent])).toEqual([
      ["human-gate", "pending", run.spanId],
    ]);

    // The worker ran inside the trace: its TRACEPARENT names the run's span.
    const stdout = workerStdout(repo);
    expect(stdout).toContain(`TRACEPARENT=00-${run.traceId}-${run.spanId}-01`);
    expect(note?.message).toBe(`traces: ${spans.length} span(s) sent to ${rx.url}/v1/traces`);
  });

  it("with the collector down, or never answering, the run ends as usual and counts what it dropped", async () => {
    const down = await closedPort();
    const hanging = await receiver("hang");
    cleanups.push(hanging.close);
    for (const endpoint of [`http://127.0.0.1:${down}`, hanging.url]) {
      const repo = repoWithTracedWorker();
      const t0 = Date.now();
      const child = startDwm(repo, ["run", "workflow.plan.json", "--ndjson"], {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_TIMEOUT: "60000",
      });
      const ended = await exited(child);
      expect(ended, child.out.join("\n")).toBe(4);
      const lines = child.out.filter((l) => !l.startsWith("stderr: ")).map((l) => JSON.parse(l));
      const note = lines.find((l) => l.kind === "note" && String(l.message).startsWith("traces:"));
      expect(note?.message).toMatch(
        new RegExp(`^traces: 0 span\\(s\\) sent to ${endpoint}/v1/traces, \\d+ dropped`),
      );
      expect(Number(/, (\d+) dropped/.exec(note.message)?.[1])).toBeGreaterThan(10);
      // The exporter's own timeout (60 s) is not waited for: the end waits 2 s at most.
      expect(Date.now() - t0).toBeLessThan(45_000);
      // Nothing of the worker's trace context depends on the collector.
      const stdout = workerStdout(repo);
      expect(stdout).toMatch(/TRACEPARENT=00-[0-9a-f]{32}-[0-9a-f]{16}-01/);
    }
    expect(hanging.requests.length).toBeGreaterThan(0);
  });

  it("without OTEL_* variables nothing is traced and workers get no TRACEPARENT", async () => {
    const repo = repoWithTracedWorker();
    const child = startDwm(repo, ["run", "workflow.plan.json", "--ndjson"], {});
    expect(await exited(child)).toBe(4);
    expect(child.out.some((l) => l.includes("traces:"))).toBe(false);
    const stdout = workerStdout(repo);
    expect(stdout).toContain("TRACEPARENT=none");
  });
});
