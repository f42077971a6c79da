// Start-up cost of the dwm binary against the floor of starting Node at all.
import { dwmBin, timeProcess, writeResult } from "../lib.mjs";

export async function run({ quick }) {
  const runs = quick ? 5 : 15;
  const floor = timeProcess([process.execPath, "-e", "0"], { runs });
  const version = timeProcess([process.execPath, dwmBin, "--version"], { runs });
  const doctor = timeProcess([process.execPath, dwmBin, "doctor", "--json"], { runs });
  const rows = [
    { case: "node -e 0 (floor)", median_ms: floor.median.toFixed(1), ratio: "1.00" },
    {
      case: "dwm --version",
      median_ms: version.median.toFixed(1),
      ratio: (version.median / floor.median).toFixed(2),
    },
    {
      case: "dwm doctor --json",
      median_ms: doctor.median.toFixed(1),
      ratio: (doctor.median / floor.median).toFixed(2),
    },
  ];
  writeResult("startup", {
    runs,
    rows,
    note: "doctor spawns git, codex and claude probes; its ratio includes them",
  });
  return rows;
}
