import type { Clock } from "@dwm/core";

/** A clock that only moves when told; `now()` advances by `stepMs` on every read. */
export class FakeClock implements Clock {
  private ms: number;
  constructor(
    start = "2026-01-01T00:00:00.000Z",
    private readonly stepMs = 0,
  ) {
    this.ms = Date.parse(start);
  }
  now(): string {
    const s = new Date(this.ms).toISOString();
    this.ms += this.stepMs;
    return s;
  }
  monotonicMs(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
