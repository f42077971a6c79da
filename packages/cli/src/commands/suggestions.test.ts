// Every command DWM suggests must exist and be accepted in the state it is suggested in. For each
// run state (compiled, at a gate, failed, complete, budget spent, locked by a live runner, torn
// journal, tampered store) this collects every command that `dwm run`, status, next, gates and
// show print or put in their --json, then runs each one in that state (a fresh copy of it for a
// command that changes the run) and checks it was not refused: no usage error, no ERR_ code.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type Cleanups, dwm, inventoryWriting, runIdOf, starterRepo } from "../test-support/starter.js";

const cleanups: Cleanups = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
const sleepers: ChildProcess[] = [];
afterAll(() => {
  for (const s of sleepers) s.kill("SIGKILL");
});

/** A run state: how to make it, and what the commands that made it printed. */
interface Built {
  repo: string;
  printed: string[];
}

const run = async (repo: string, argv: string[]): Promise<string> => {
  const r = await dwm(repo, argv, cleanups);
  return `${r.stdout}\n${r.lines.join("\n")}`;
};

const compiled = async (): Promise<Built> => {
  const repo = await starterRepo(cleanups);
  await run(repo, ["compile", "workflow.plan.json"]);
  return { repo, printed: [] };
};

const STATES: Record<string, () => Promise<Built>> = {
  compiled,
  "at a gate": async () => {
    const repo = await starterRepo(cleanups);
    return { repo, printed: [await run(repo, ["run", "workflow.plan.json"])] };
  },
  failed: async () => {
    const repo = await starterRepo(cleanups, inventoryWriting("JSON.stringify({files})"));
    return { repo, printed: [await run(repo, ["run", "workflow.plan.json", "--approve", "write"])] };
  },
  complete: async () => {
    const repo = await starterRepo(cleanups);
    return { repo, printed: [await run(repo, ["run", "workflow.plan.json", "--approve", "write"])] };
  },
  "budget spent": async () => {
    const repo = await starterRepo(cleanups);
    const out = await run(repo, ["run", "workflow.plan.json", "--approve", "write", "--max-attempts", "1"]);
    return { repo, printed: [out] };
  },
  "locked by a live runner": async () => {
    const built = await compiled();
    // A live process on this host holds an unexpired lease, as a running `dwm run` would.
    const sleeper = spawn("sleep", ["120"], { stdio: "ignore" });
    sleepers.push(sleeper);
    const lease = {
      pid: sleeper.pid,
      host: os.hostname(),
      token: "0123456789abcdef",
      acquired_at: "2026-01-01T00:00:00.000Z",
      expires_at: "2100-01-01T00:00:00.000Z",
      purpose: "run",
    };
    fs.writeFileSync(
      path.join(built.repo, ".dwm", "runs", runIdOf(built.repo), "lock"),
      `${JSON.stringify(lease)}\n`,
    );
    return built;
  },
  "torn journal": async () => {
    const repo = await starterRepo(cleanups);
    const out = await run(repo, ["run", "workflow.plan.json"]);
    fs.appendFileSync(
      path.join(repo, ".dwm", "runs", runIdOf(repo), "journal.jsonl"),
      '{"seq":99,"prev":"sha',
    );
    return { repo, printed: [out] };
  },
  "tampered store": async () => {
    const built = await compiled();
    fs.appendFileSync(
      path.join(built.repo, ".dwm", "runs", runIdOf(built.repo), "prompts", "summary.md"),
      "\nsneaky\n",
    );
    return built;
  },
};

/** The commands a text suggests: `$ dwm ...` lines (a trailing `# comment` dropped) and `(dwm ...)` in prose. */
function suggestedIn(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*\$ (dwm\s.*?)\s*(#.*)?$/.exec(line);
    if (m?.[1]) out.push(m[1]);
    for (const p of line.matchAll(/\((dwm [^()]*)\)/g)) if (p[1]) out.push(p[1]);
  }
  return out;
}

/** The commands a --json document suggests: `command(s)` strings and `argv`/`next`/`approve_argv` lists. */
function suggestedInJson(doc: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key: string) => {
    if (typeof v === "string" && (key === "command" || key === "commands") && v.startsWith("dwm "))
      out.push(v);
    else if (Array.isArray(v) && ["argv", "next", "approve_argv"].includes(key) && v[0] === "dwm")
      out.push(v.map((a) => (/^[\w./:=@,+-]+$/.test(String(a)) ? a : `'${a}'`)).join(" "));
    else if (Array.isArray(v)) for (const x of v) walk(x, key);
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(doc, "");
  return out;
}

/** A suggested command line as argv: optional `[...]` parts left out, quotes honoured. */
function argvOf(line: string): string[] {
  const plain = line.replace(/\s*\[[^\]]*\]/g, "");
  const words: string[] = [];
  for (const m of plain.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3] ?? "");
  return words;
}

/** What the run's views print in this state, as text and as JSON. */
async function viewsOf(repo: string): Promise<{ texts: string[]; docs: unknown[] }> {
  const id = runIdOf(repo);
  const packets = ["inventory", "summary"];
  const views = [["status"], ["next"], ["gates"], ...packets.map((p) => ["show", id, p])];
  const texts: string[] = [];
  const docs: unknown[] = [];
  for (const v of views) {
    texts.push((await dwm(repo, v, cleanups)).stdout);
    const j = await dwm(repo, [...v, "--json"], cleanups);
    docs.push(JSON.parse(j.stdout));
  }
  return { texts, docs };
}

/** Commands that change the run: each runs on a fresh copy of the state. */
const CHANGES = new Set(["run", "approve", "reject", "compile", "init", "exec"]);

describe("every suggested command is accepted in the state it is suggested in", () => {
  it.each(Object.keys(STATES))(
    "%s",
    async (name) => {
      const build = STATES[name] as () => Promise<Built>;
      const first = await build();
      const { texts, docs } = await viewsOf(first.repo);
      const suggested = [
        ...new Set([...[...first.printed, ...texts].flatMap(suggestedIn), ...docs.flatMap(suggestedInJson)]),
      ];
      expect(suggested.length, `${name}: some command is suggested`).toBeGreaterThan(0);
      const tried: string[] = [];
      for (const line of suggested) {
        const argv = argvOf(line);
        expect(argv[0]).toBe("dwm");
        expect(argv.join(" "), "a suggestion is runnable as printed (no <placeholder>)").not.toMatch(
          /<[a-z]+>/,
        );
        let repo = first.repo;
        let args = argv.slice(1);
        if (CHANGES.has(argv[1] ?? "")) {
          // A fresh copy of the state: the same run but for its id (the plan id comes from the folder name).
          repo = (await build()).repo;
          const [was, now] = [runIdOf(first.repo), runIdOf(repo)];
          args = args.map((a) => (a === was ? now : a));
        }
        const r = await dwm(repo, args, cleanups);
        tried.push(`${line} → ${r.code}`);
        expect(r.code, `${name}: ${line}\n${r.stderr}`).not.toBe(2);
        expect(r.stderr, `${name}: ${line}`).not.toMatch(/^error ERR_/m);
      }
      expect(tried.length).toBe(suggested.length);
    },
    240_000,
  );
});
