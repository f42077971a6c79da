import { createHash } from "node:crypto";
import type { PacketAttemptDetail, PacketDetail } from "@dwm/schemas";
import { layoutGraph } from "./graph-layout.js";
import { formatUsd } from "./prices.js";
import type { GateRow, ReportData, Span } from "./report-data.js";

/** Everything in the report came from the run store, which holds what untrusted workers wrote: escape it all. */
export function esc(s: unknown): string {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Fill and stroke of a node by the packet's state. */
export const STATE_COLOURS: Record<string, { fill: string; stroke: string }> = {
  completed: { fill: "#e8f5e9", stroke: "#2e7d32" },
  failed: { fill: "#ffebee", stroke: "#c62828" },
  "needs-human": { fill: "#fff3e0", stroke: "#ef6c00" },
  repairing: { fill: "#fffde7", stroke: "#f9a825" },
  ready: { fill: "#e3f2fd", stroke: "#1565c0" },
  blocked: { fill: "#f5f5f5", stroke: "#9e9e9e" },
  pending: { fill: "#f5f5f5", stroke: "#bdbdbd" },
  dispatched: { fill: "#f3e5f5", stroke: "#6a1b9a" },
  attempted: { fill: "#f3e5f5", stroke: "#6a1b9a" },
  reviewed: { fill: "#f3e5f5", stroke: "#6a1b9a" },
  abandoned: { fill: "#efebe9", stroke: "#795548" },
  expanded: { fill: "#e0f7fa", stroke: "#00838f" },
};

/** Colours of timeline bars, by verdict, outcome or gate state. */
const TONES: Record<string, string> = {
  approved: "#2e7d32",
  "changes-requested": "#f9a825",
  "needs-human": "#ef6c00",
  "infra-failed": "#8d6e63",
  abandoned: "#795548",
  rejected: "#c62828",
  running: "#6a1b9a",
  open: "#ef6c00",
};

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#212121;background:#fafafa}
header{padding:16px 24px;background:#263238;color:#eceff1}
header h1{margin:0 0 4px;font-size:20px}
header .facts{display:flex;flex-wrap:wrap;gap:6px 20px;font-size:13px;color:#cfd8dc}
main{padding:12px 24px 40px;max-width:1400px}
h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;background:#eceff1;color:#263238}
.badge.ok{background:#c8e6c9;color:#1b5e20}.badge.bad{background:#ffcdd2;color:#b71c1c}.badge.warn{background:#ffe0b2;color:#e65100}
.graph-wrap{overflow:auto;background:#fff;border:1px solid #e0e0e0;border-radius:6px;max-height:70vh}
svg text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.node rect{stroke-width:2}
.node:hover rect,.node.selected rect{stroke-width:4}
.node text.id{font-size:12px;font-weight:700;fill:#212121}
.node text.sub{font-size:11px;fill:#555}
.edge{fill:none;stroke:#90a4ae;stroke-width:1.5}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:8px 0;font-size:12px}
.legend span::before{content:"";display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px;background:var(--c)}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #e0e0e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}
.packet{display:none;background:#fff;border:2px solid #546e7a;border-radius:6px;padding:12px 16px;margin:12px 0}
.packet:target{display:block}
.packet h3{margin:0 0 6px;font-size:16px}
.packet .close{float:right;font-size:12px}
.attempt{border-top:1px solid #eceff1;margin-top:10px;padding-top:8px}
pre{background:#263238;color:#eceff1;padding:8px;border-radius:4px;overflow:auto;max-height:260px;font-size:12px;margin:4px 0}
.muted{color:#757575}
.hint{font-size:13px;color:#546e7a}
#timeline text{font-size:11px;fill:#424242}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
`;

// Keeps the clicked node marked while its details are shown (the details open through :target without it).
const JS = `
(function(){
  function mark(){
    var id = decodeURIComponent(location.hash.slice(1));
    var nodes = document.querySelectorAll(".node");
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      if (n.getAttribute("data-target") === id) n.classList.add("selected"); else n.classList.remove("selected");
    }
  }
  window.addEventListener("hashchange", mark);
  mark();
})();
`;

function cspHash(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/** The anchor id of a packet's details (packet ids hold slashes; ids stay simple). */
function anchorOf(index: number): string {
  return `packet-${index}`;
}

function badgeClass(status: string): string {
  if (status === "complete") return "ok";
  if (status.startsWith("stopped: failed")) return "bad";
  return "warn";
}

function ms(n: number | null): string {
  if (n === null) return "-";
  if (n < 1000) return `${Math.round(n)}ms`;
  return n >= 60_000
    ? `${Math.floor(n / 60_000)}m ${Math.round((n % 60_000) / 1000)}s`
    : `${(n / 1000).toFixed(1)}s`;
}

/** The packet graph as SVG, laid out by dagre; each node links to its details. */
export function graphSvg(packets: readonly PacketDetail[], edges: readonly [string, string][]): string {
  const label = (p: PacketDetail) =>
    `${p.state} · ${p.attempts.length} att${p.cost.usd === null ? "" : ` · ${formatUsd(p.cost.usd)}`}`;
  const shortId = (id: string) => (id.length > 34 ? `${id.slice(0, 33)}…` : id);
  const sizes = packets.map((p) => ({
    id: p.packet_id,
    width: Math.min(300, Math.max(130, 7.4 * Math.max(shortId(p.packet_id).length, label(p).length) + 24)),
    height: 44,
  }));
  const g = layoutGraph(sizes, edges);
  const index = new Map(packets.map((p, i) => [p.packet_id, i]));
  const edgeSvg = g.edges.map((e) => {
    const d = e.points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    return `<path class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}" d="${d}" marker-end="url(#arrow)"/>`;
  });
  const nodeSvg = packets.map((p) => {
    const at = g.nodes.get(p.packet_id);
    if (!at) return "";
    const c = STATE_COLOURS[p.state] ?? { fill: "#fff", stroke: "#616161" };
    const x = at.x - at.width / 2;
    const y = at.y - at.height / 2;
    const target = anchorOf(index.get(p.packet_id) ?? 0);
    return [
      `<a class="node" href="#${target}" data-target="${target}" data-packet="${esc(p.packet_id)}" data-state="${esc(p.state)}">`,
      `<title>${esc(p.packet_id)}: ${esc(p.state)}</title>`,
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${at.width.toFixed(1)}" height="${at.height}" rx="6" fill="${c.fill}" stroke="${c.stroke}"/>`,
      `<text class="id" x="${(x + 10).toFixed(1)}" y="${(y + 18).toFixed(1)}">${esc(shortId(p.packet_id))}</text>`,
      `<text class="sub" x="${(x + 10).toFixed(1)}" y="${(y + 34).toFixed(1)}">${esc(label(p))}</text>`,
      "</a>",
    ].join("");
  });
  const w = Math.ceil(g.width);
  const h = Math.ceil(g.height);
  return [
    `<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="Packet graph">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#90a4ae"/></marker></defs>`,
    `<g class="edges">${edgeSvg.join("")}</g>`,
    `<g class="nodes">${nodeSvg.join("")}</g>`,
    "</svg>",
  ].join("\n");
}

function legend(packets: readonly PacketDetail[]): string {
  const present = [...new Set(packets.map((p) => p.state))];
  return `<div class="legend">${present
    .map((s) => {
      const n = packets.filter((p) => p.state === s).length;
      return `<span class="legend-${esc(s)}">${esc(s)} ${n}</span>`;
    })
    .join("")}</div>`;
}

/** The legend's swatches: one CSS rule per state (the page has no style attributes, so its CSP stays strict). */
function legendCss(): string {
  return Object.entries(STATE_COLOURS)
    .map(([s, c]) => `.legend-${s}{--c:${c.stroke}}`)
    .join("\n");
}

function attemptHtml(a: PacketAttemptDetail): string {
  const tokens = a.tokens
    ? `${a.tokens.input_tokens ?? 0} in / ${a.tokens.output_tokens ?? 0} out (${a.tokens.total_tokens ?? 0} total)`
    : "-";
  const rows: [string, string][] = [
    ["outcome", `${a.outcome ?? "no evidence"}${a.failure_class ? ` (${a.failure_class})` : ""}`],
    ["verdict", a.verdict ?? "not reviewed"],
    ["backend", a.backends.join(", ") || "-"],
    ["exit", a.exit_code === null ? (a.signal ?? "-") : String(a.exit_code)],
    ["duration", ms(a.duration_ms)],
    ["tokens", tokens],
    [
      "cost",
      `${formatUsd(a.cost.usd)}${a.cost.source ? ` (${a.cost.source}${a.cost.models.length ? `: ${a.cost.models.join(", ")}` : ""})` : ""}`,
    ],
    ["evidence", a.evidence],
  ];
  const checks = a.failing_checks.map(
    (c) =>
      `<div class="check"><b>failing check ${esc(c.id)}</b> (${esc(c.kind)}): ${esc(c.detail)}${c.command ? `<br><code>$ ${esc(c.command)}</code> → ${c.timed_out ? "timed out" : `exit ${esc(c.exit_code ?? "-")}`}` : ""}${c.output_tail ? `<pre>${esc(c.output_tail)}</pre>` : ""}</div>`,
  );
  const findings = a.findings.map(
    (f) =>
      `<div class="finding"><b>${esc(f.code)}</b> (${esc(f.effect)}): ${esc(f.message)}${f.evidence.map((e) => `<pre>${esc(e)}</pre>`).join("")}</div>`,
  );
  const diff = a.diff
    ? `<table class="diff"><tr><th>file</th><th>status</th><th>+</th><th>-</th></tr>${a.diff.files
        .map(
          (f) =>
            `<tr><td><code>${esc(f.path)}</code></td><td>${esc(f.status)}</td><td>${esc(f.added ?? "")}</td><td>${esc(f.removed ?? "")}</td></tr>`,
        )
        .join("")}</table>`
    : `<p class="muted">no diff</p>`;
  return [
    `<div class="attempt" data-attempt="${a.attempt}"><h4>attempt ${a.attempt}</h4>`,
    `<table class="facts">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${esc(v)}</td></tr>`).join("")}</table>`,
    ...checks,
    ...findings,
    diff,
    "</div>",
  ].join("\n");
}

/** One packet's details, shown when its node is clicked (the section is the link's :target). */
export function packetHtml(p: PacketDetail, index: number): string {
  const facts: [string, string][] = [
    ["state", `${p.state}${p.reason ? ` (${p.reason})` : ""}`],
    ["phase", `${p.phase.id}${p.phase.name ? ` "${p.phase.name}"` : ""}`],
    [
      "workers",
      p.workers
        .map(
          (w) =>
            `${w.worker_id}${w.backend ? ` (${w.backend}${w.model ? ` ${w.model}` : ""})` : ""} owns ${w.ownership.join(", ") || "nothing"}`,
        )
        .join("; ") || "-",
    ],
    ["after", p.depends_on.join(", ") || "-"],
    ["gates", p.gates.map((g) => `${g.gate_id} ${g.state}`).join(", ") || "-"],
    ["tokens", `${p.cost.total_tokens} (in ${p.cost.input_tokens}, out ${p.cost.output_tokens})`],
    ["cost", formatUsd(p.cost.usd)],
    ["next", `${p.next_action.summary}${p.next_action.command ? ` $ ${p.next_action.command}` : ""}`],
  ];
  return [
    `<section class="packet" id="${anchorOf(index)}" data-packet="${esc(p.packet_id)}">`,
    `<a class="close" href="#">close</a><h3>${esc(p.packet_id)}</h3>`,
    `<table class="facts">${facts.map(([k, v]) => `<tr><th>${k}</th><td>${esc(v)}</td></tr>`).join("")}</table>`,
    p.attempts.length ? p.attempts.map(attemptHtml).join("\n") : `<p class="muted">no attempt yet</p>`,
    "</section>",
  ].join("\n");
}

function gatesHtml(gates: readonly GateRow[]): string {
  if (gates.length === 0) return `<p class="muted">The run has no gate.</p>`;
  const rows = gates.map((g) => {
    const decided = g.decisions.length
      ? g.decisions
          .map(
            (d) =>
              `${esc(d.decision)} by ${esc(d.approver)} (${esc(d.source)}) at ${esc(d.at)}${d.reason ? `: ${esc(d.reason)}` : ""}`,
          )
          .join("<br>")
      : `<span class="muted">none</span>`;
    return `<tr data-gate="${esc(g.gate_id)}"><td>${esc(g.gate_id)}</td><td>${esc(g.category)}</td><td>${esc(g.state)}</td><td>${esc(g.packets.join(", ") || "-")}</td><td>${decided}</td></tr>`;
  });
  return `<table id="gates"><tr><th>gate</th><th>category</th><th>state</th><th>holds</th><th>decisions (who, how known, when, why)</th></tr>${rows.join("")}</table>`;
}

/** Attempts and gate waits as bars on one time axis (seconds from the run's first event). */
export function timelineSvg(spans: readonly Span[], totalMs: number): string {
  if (spans.length === 0) return `<p class="muted">Nothing has run yet.</p>`;
  const rows = [...new Set(spans.map((s) => s.row))];
  const left = 200;
  const width = 900;
  const rowH = 20;
  const total = Math.max(totalMs, 1);
  const x = (t: number) => left + (t / total) * width;
  const step = niceStep(total / 8);
  const ticks: string[] = [];
  for (let t = 0; t <= total; t += step) {
    ticks.push(
      `<line x1="${x(t).toFixed(1)}" y1="14" x2="${x(t).toFixed(1)}" y2="${20 + rows.length * rowH}" stroke="#eeeeee"/><text x="${x(t).toFixed(1)}" y="11" text-anchor="middle">${esc(ms(t))}</text>`,
    );
  }
  const bars = spans.map((s) => {
    const y = 20 + rows.indexOf(s.row) * rowH;
    const w = Math.max(2, x(s.end) - x(s.start));
    return `<rect class="span" data-row="${esc(s.row)}" x="${x(s.start).toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" rx="2" fill="${TONES[s.tone] ?? "#607d8b"}"><title>${esc(s.row)} ${esc(s.label)}: ${esc(s.tone)}, ${esc(ms(s.end - s.start))}</title></rect>`;
  });
  const labels = rows.map(
    (r, i) =>
      `<text x="${left - 8}" y="${20 + i * rowH + 14}" text-anchor="end">${esc(r.length > 30 ? `${r.slice(0, 29)}…` : r)}</text>`,
  );
  const h = 30 + rows.length * rowH;
  return `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${left + width + 20}" height="${h}" viewBox="0 0 ${left + width + 20} ${h}" role="img" aria-label="Timeline">${ticks.join("")}${labels.join("")}${bars.join("")}</svg>`;
}

/** A round tick interval (1, 2 or 5 times a power of ten milliseconds) near `raw`. */
export function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function headerHtml(d: ReportData): string {
  const c = d.cost;
  const facts = [
    `plan ${esc(d.plan_id)} (revision ${d.revision})`,
    `base ${esc(d.base_commit ? d.base_commit.slice(0, 12) : "none")}`,
    `${d.packets.length} packets, ${c.attempts} attempts`,
    `${c.total_tokens} tokens`,
    `cost ${esc(formatUsd(c.usd))}${c.unpriced ? ` (+${c.unpriced} unpriced)` : ""}`,
    `run time ${esc(ms(d.timeline.total_ms))}`,
  ];
  return [
    `<header><h1>Run ${esc(d.run_id)} <span class="badge ${badgeClass(d.status)}">${esc(d.status)}</span> <span class="badge ${d.integrity.ok ? "ok" : "bad"}">integrity ${d.integrity.ok ? "ok" : "FAILED"}</span></h1>`,
    `<div class="facts">${facts.map((f) => `<span>${f}</span>`).join("")}</div></header>`,
  ].join("\n");
}

function integrationHtml(d: ReportData): string {
  const i = d.integration;
  return [
    '<table id="integration">',
    `<tr><th>branch</th><td><code>${esc(i.branch)}</code></td></tr>`,
    `<tr><th>head</th><td><code>${esc(i.head ?? "nothing merged yet")}</code></td></tr>`,
    `<tr><th>merged</th><td>${esc(i.merged.join(", ") || "-")}</td></tr>`,
    `<tr><th>conflicts</th><td>${esc(i.conflicts.join("; ") || "none")}</td></tr>`,
    "</table>",
  ].join("\n");
}

/**
 * The whole report: one self-contained HTML page (inline CSS, SVG and a few lines of script,
 * all allowed by hash in its Content-Security-Policy, which also forbids every network load).
 */
export function renderReport(d: ReportData): string {
  const css = `${CSS}\n${legendCss()}`;
  const csp = `default-src 'none'; style-src ${cspHash(css)}; script-src ${cspHash(JS)}; img-src data:; base-uri 'none'; form-action 'none'`;
  return [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8">`,
    // Built from constants and base64 hashes only: nothing in it needs escaping.
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>DWM run ${esc(d.run_id)}</title>`,
    `<style>${css}</style></head><body>`,
    headerHtml(d),
    "<main>",
    d.integrity.ok ? "" : `<h2>Integrity problems</h2><pre>${esc(d.integrity.problems.join("\n"))}</pre>`,
    `<h2>Packets</h2><p class="hint">Click a packet for its attempts, checks, verdicts, diff stat, tokens and cost.</p>`,
    legend(d.packets),
    `<div class="graph-wrap">${graphSvg(d.packets, d.edges)}</div>`,
    `<div id="details">${d.packets.map((p, i) => packetHtml(p, i)).join("\n")}</div>`,
    `<h2>Gates</h2>`,
    gatesHtml(d.gates),
    `<h2>Integration</h2>`,
    integrationHtml(d),
    `<h2>Timeline</h2><p class="hint">Each bar is an attempt (dispatched to reviewed, coloured by verdict) or a gate's wait (opened to decided).${d.timeline.started_at ? ` Time 0 is ${esc(d.timeline.started_at)}.` : ""}</p>`,
    `<div class="graph-wrap">${timelineSvg(d.timeline.spans, d.timeline.total_ms)}</div>`,
    "</main>",
    `<script>${JS}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}
