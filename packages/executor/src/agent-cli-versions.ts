/**
 * The real agent CLI versions DWM's contract tests (@dwm/agent-contracts) run the `codex` and
 * `claude` backends against. tools/agent-clis/package.json pins exactly these (a contract test
 * checks it) and `dwm doctor` compares the installed CLIs with them. Change them together.
 */
export const COVERED_AGENT_CLI_VERSIONS = {
  codex: "0.169.0",
  claude: "2.1.197",
} as const;
