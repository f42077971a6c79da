/** Version of the compiler recorded in run.json; a different version makes a run stale (ERR_RESUME_STALE_COMPILER). Kept equal to package.json by a test. */
export const COMPILER_VERSION = "0.2.0";
