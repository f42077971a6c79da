/** Recorded in every review as `reviewer_version`. */
export const REVIEWER_VERSION = "0.2.0";
