import { defineErrors, EXIT } from "@dwm/core";

/** Errors of @dwm/ingester: reviews that cannot be ingested into the run's state. */
export const ingesterErrors = defineErrors({
  ERR_INGEST_FOREIGN_RUN: {
    title: "The review belongs to another run.",
    hint: "Ingest a review into the run whose attempt it reviewed.",
  },
  ERR_INGEST_UNKNOWN_PACKET: {
    title: "The review names a packet the run does not have.",
    hint: "The run was recompiled since the attempt; dispatch the packet again.",
  },
  ERR_INGEST_STALE_REVIEW: {
    title: "The review is not of the packet's current, recorded and not yet reviewed attempt.",
    hint: "Review the packet's latest attempt (the one attempt.recorded named last); an older review cannot move the packet.",
  },
  ERR_INGEST_PACKET_MISMATCH: {
    title: "The review was made against another version of the packet.",
    hint: "The packet changed after the attempt; dispatch it again.",
    exitCode: EXIT.integrity,
  },
  ERR_INGEST_FANOUT_INVALID: {
    title: "A fan-out's source handoff cannot be expanded into item packets.",
    hint: "The source must be a JSON list (or JSON Lines) of objects, each with the handoff's required fields and a unique key; fix the source phase and run it again (the fan-out's first phase is failed until then).",
  },
  ERR_INGEST_HANDOFF_DIGEST: {
    title: "A handoff file does not match the digest its review recorded.",
    hint: "The attempt's evidence changed after the review; run `dwm verify`.",
    exitCode: EXIT.integrity,
  },
});
