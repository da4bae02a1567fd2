/** What an evaluator says about one answer. Plain data: it travels through Temporal history and headers. */
export type EvaluatorName = 'rules' | 'logprobs' | 'judge';

export interface Verdict {
  pass: boolean;
  evaluator: EvaluatorName;
  /** Human-readable, for logs, the attempt trail and the benchmark: why it passed or not. */
  reason: string;
  /** Which check decided (rules: `empty`, `length`, `refusal`, `min_chars`, `json`; judge: `unparseable`, `error`). */
  check?: string;
  /**
   * The number the decision was made on: logprobs, the statistic (a natural-log probability, ≤ 0);
   * judge, the 1-10 grade. Rules give none.
   */
  score?: number;
  /**
   * The evaluator had nothing to judge (no logprobs came back, an answer of tool calls only): it neither
   * accepts nor rejects, and `combine` leaves it out. `pass` is true so a reader counting rejects is not misled.
   */
  abstained?: boolean;
}
