/** DESIGN.md's exit codes, as `dwm commands` and `dwm --help` print them. */
export const EXIT_CODE_MEANINGS = {
  "0": "success, or the run is complete",
  "1": "failure or invalid input",
  "2": "usage error",
  "3": "integrity failure (tampered or stale artifact)",
  "4": "stopped at a human gate",
  "5": "budget exhausted",
} as const;
