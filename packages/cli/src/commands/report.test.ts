// dwm report on a real run of examples/repo-audit, looked at in real headless Chromium: the page
// loads with no console error and no network request, shows one node per packet and one edge per
// dependency, and a click on a node opens that packet's details. The screenshot is left in
// .ci-reports/cli/ for a person to look at.
import fs from "node:fs";
import path from "node:path";
import { systemClock } from "@dwm/core";
import { validateSchema } from "@dwm/schemas";
import { leftOut, missingPartMessage } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditRepo } from "../test-support/built-cli.js";
import { CHROMIUM, openBrowser, screenshot } from "../test-support/chromium.js";
import { type Cleanups, dwm, runIdOf } from "../test-support/starter.js";

const cleanups: Cleanups = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** examples/repo-audit run to completion: stopped at its human gate, approved, run again. */
async function completedAudit(): Promise<{ repo: string; id: string }> {
  const repo = auditRepo(cleanups).path;
  // The system clock: the timeline shows real durations.
  const run = (argv: string[]) => dwm(repo, argv, cleanups, { clock: systemClock });
  expect((await run(["run", "workflow.plan.json"])).code).toBe(4);
  const id = runIdOf(repo);
  expect((await run(["approve", id, "human-gate", "--reason", "read the report"])).code).toBe(0);
  expect((await run(["run", id])).code).toBe(0);
  return { repo, id };
}

describe("dwm report", () => {
  it("writes one self-contained page: every packet and dependency, gates with who decided, cost", async () => {
    const { repo, id } = await completedAudit();
    const r = await dwm(repo, ["report", id, "--json"], cleanups);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(validateSchema("report-result", doc).problems).toEqual([]);
    expect(doc).toMatchObject({
      run_id: id,
      file: `.dwm/reports/${id}.html`,
      packets: 6,
      edges: 7,
      opened: false,
    });
    const html = fs.readFileSync(path.join(repo, doc.file), "utf8");
    expect(doc.bytes).toBe(Buffer.byteLength(html));
    // Nothing to fetch: no external script, style, image or font; the CSP forbids any load.
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)=/i);
    expect(html).toContain(`content="default-src 'none';`);
    expect(html).toContain("approve by dwm.policy.json (policy-file)");
    expect(html).toContain("read the report");
    expect(html).toContain(`dwm/${id}/integration`);
    // The report lives in the store's folder, which git ignores.
    expect(fs.readFileSync(path.join(repo, ".dwm", ".gitignore"), "utf8")).toBe("*\n");
  }, 120_000);

  // Chromium comes with scripts/ci-setup.sh; skipped only with DWM_TEST_SKIP=chromium.
  describe.skipIf(leftOut("chromium"))("in headless Chromium", () => {
    beforeEach(() => {
      if (!fs.existsSync(CHROMIUM))
        throw new Error(missingPartMessage("chromium", `${CHROMIUM} is not there`));
    });

    it("loads without errors or network, one node per packet, one edge per dependency, a click opens details", async () => {
      const { repo, id } = await completedAudit();
      const out = path.join(repo, "report.html");
      expect((await dwm(repo, ["report", id, "--out", "report.html"], cleanups)).code).toBe(0);
      const packets = JSON.parse(fs.readFileSync(path.join(repo, ".dwm", "runs", id, "run.json"), "utf8"))
        .packets as { packet_id: string; depends_on: string[] }[];
      const deps = packets.flatMap((p) => p.depends_on.map((d) => `${d}->${p.packet_id}`)).sort();

      const b = await openBrowser();
      cleanups.push(() => void b.close());
      try {
        await b.page.goto(`file://${out}`);
        const nodes = await b.page.$$eval(".node", (ns) => ns.map((n) => n.getAttribute("data-packet")));
        expect(nodes.sort()).toEqual(packets.map((p) => p.packet_id).sort());
        const edges = await b.page.$$eval(".edge", (es) =>
          es.map((e) => `${e.getAttribute("data-from")}->${e.getAttribute("data-to")}`),
        );
        expect(edges.sort()).toEqual(deps);
        expect(edges).toHaveLength(7);

        const details = b.page.locator('section.packet[data-packet="report"]');
        expect(await details.isVisible()).toBe(false);
        await b.page.click('.node[data-packet="report"]');
        expect(await details.isVisible()).toBe(true);
        expect(await details.textContent()).toContain("attempt 1");
        expect(await details.textContent()).toContain("approved");
        expect(await b.page.locator('.node[data-packet="report"]').getAttribute("class")).toContain(
          "selected",
        );
        // Only the clicked packet's details are open.
        expect(await b.page.locator("section.packet:visible").count()).toBe(1);

        const shot = await screenshot(b.page, "report-repo-audit.png");
        expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
        expect(b.problems).toEqual([]);
      } finally {
        await b.close();
      }
    }, 180_000);
  });
});
