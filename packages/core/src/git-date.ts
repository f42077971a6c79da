/**
 * Git's internal date format (`<unix seconds> +0000`, for GIT_AUTHOR_DATE and GIT_COMMITTER_DATE)
 * of an RFC 3339 time from the clock: whole seconds, UTC, so a commit DWM makes is the same
 * wherever it is made.
 */
export function gitDate(iso: string): string {
  const ms = Date.parse(iso);
  // A clock breaking its contract would otherwise give git "NaN +0000".
  if (Number.isNaN(ms)) throw new RangeError(`gitDate: ${JSON.stringify(iso)} is not an RFC 3339 time`);
  return `${Math.floor(ms / 1000)} +0000`;
}
