import type { Packet } from "@dwm/schemas";

function norm(p: string): string {
  return p.trim().replace(/^\.\//, "");
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        re += ".*";
        i++;
        if (glob[i + 1] === "/") i++;
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** How a packet's ownership covers a path: named exactly, covered by a folder or glob, or not at all. */
export type Coverage = "exact" | "broad" | "none";

/** Ownership entries of the packet's writing workers (read-only workers own nothing). */
export function writableOwnership(packet: Packet): string[] {
  return packet.workers.filter((w) => w.tool_permissions.write).flatMap((w) => w.ownership.map(norm));
}

export function coverage(entries: readonly string[], path: string): Coverage {
  const p = norm(path);
  let broad = false;
  for (const e of entries) {
    if (e === p) return "exact";
    if (e === "" || e === "." || e === "*" || e === "**") {
      broad = true;
      continue;
    }
    if (/[*?]/.test(e)) {
      if (globToRegExp(e).test(p)) broad = true;
    } else {
      const dir = e.endsWith("/") ? e : `${e}/`;
      if (p.startsWith(dir)) broad = true;
    }
  }
  return broad ? "broad" : "none";
}
