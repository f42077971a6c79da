import type { CommandSpec, OptionSpec } from "../command.js";

/** The shells `dwm completion` writes a script for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** The run ids of the store of the repository around the current directory (the shells run this). */
const RUN_IDS = `ls "$(git rev-parse --show-toplevel 2>/dev/null || echo .)/.dwm/runs" 2>/dev/null`;

/** What a command's positional arguments are: runs of the store, files (plans), or nothing. */
export function positionalKind(spec: CommandSpec): "run" | "file" | "none" {
  if (spec.positionals.max === 0) return "none";
  if (/<plan/.test(spec.usage)) return "file";
  return /\[run\]|<run>/.test(spec.usage) ? "run" : "none";
}

function optionNames(spec: CommandSpec): string[] {
  return [...Object.keys(spec.options).map((n) => `--${n}`), "--help"];
}

function valued(spec: CommandSpec): [string, OptionSpec][] {
  return Object.entries(spec.options).filter(([, o]) => o.type === "string");
}

/** bash: complete -F with compgen; option values from the registry, run ids from the store. */
export function bashScript(commands: readonly CommandSpec[]): string {
  const byOption = new Map<string, string>();
  for (const c of commands) {
    for (const [n, o] of valued(c)) {
      const v = o.values;
      const action =
        v === "file"
          ? "-f"
          : v === "run"
            ? `-W "$(${RUN_IDS})"`
            : Array.isArray(v)
              ? `-W "${v.join(" ")}"`
              : null;
      if (action !== null && !byOption.has(n)) byOption.set(n, action);
    }
  }
  const cases = [...byOption].map(([n, a]) => `    --${n}) COMPREPLY=($(compgen ${a} -- "$cur")); return ;;`);
  const opts = commands.map((c) => `    ${c.name}) opts="${optionNames(c).join(" ")}" ;;`);
  const args = commands
    .filter((c) => positionalKind(c) !== "none")
    .map(
      (c) =>
        `    ${c.name}) COMPREPLY=($(compgen ${positionalKind(c) === "file" ? "-f" : `-W "$(${RUN_IDS})"`} -- "$cur")) ;;`,
    );
  return [
    "# dwm completion for bash. Load it now: source <(dwm completion bash)",
    "# or for every shell: dwm completion bash > ~/.local/share/bash-completion/completions/dwm",
    "_dwm() {",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own ${...}, not a template
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="${COMP_WORDS[1]}" opts=""',
    '  if [ "$COMP_CWORD" -eq 1 ]; then',
    `    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(" ")} --help --version" -- "$cur"))`,
    "    return",
    "  fi",
    '  case "$prev" in',
    ...cases,
    "  esac",
    '  case "$cmd" in',
    ...opts,
    "  esac",
    '  if [[ "$cur" == -* ]]; then',
    '    COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
    "    return",
    "  fi",
    '  case "$cmd" in',
    ...args,
    "  esac",
    "}",
    "complete -o default -F _dwm dwm",
    "",
  ].join("\n");
}

/** Text inside a zsh _arguments spec or _describe entry: brackets, colons and quotes escaped. */
function zshText(s: string): string {
  return s
    .replace(/\\/g, "\\\\")
    .replace(/'/g, "'\\''")
    .replace(/([[\]:])/g, "\\$1");
}

function zshOption(name: string, o: OptionSpec): string {
  const desc = zshText(o.description);
  if (o.type === "boolean") return `'--${name}[${desc}]'`;
  const v = o.values;
  const action =
    v === "file" ? "_files" : v === "run" ? "_dwm_runs" : Array.isArray(v) ? `(${v.join(" ")})` : " ";
  return `'${o.multiple ? "*" : ""}--${name}=[${desc}]:${name}:${action}'`;
}

/** zsh: a #compdef function with _arguments per command. */
export function zshScript(commands: readonly CommandSpec[]): string {
  const described = commands.map((c) => `    '${zshText(c.name)}:${zshText(c.summary)}'`);
  const cases = commands.map((c) => {
    const kind = positionalKind(c);
    const pos = kind === "file" ? ["'*:plan or run:_files'"] : kind === "run" ? ["'*:run:_dwm_runs'"] : [];
    const specs = [
      ...Object.entries(c.options).map(([n, o]) => zshOption(n, o)),
      "'--help[Show help]'",
      ...pos,
    ];
    return `    ${c.name}) _arguments ${specs.join(" \\\n        ")} ;;`;
  });
  return [
    "#compdef dwm",
    "# dwm completion for zsh. Load it now: source <(dwm completion zsh)",
    "# or save it as _dwm in a folder of $fpath: dwm completion zsh > ~/.zfunc/_dwm",
    "_dwm_runs() {",
    "  local -a runs",
    `  runs=(\${(f)"$(${RUN_IDS})"})`,
    "  _describe 'run' runs",
    "}",
    "_dwm() {",
    "  local -a commands",
    "  commands=(",
    ...described,
    "  )",
    "  if (( CURRENT == 2 )); then",
    "    _describe 'command' commands",
    "    return",
    "  fi",
    "  local cmd=$words[2]",
    "  shift words",
    "  (( CURRENT-- ))",
    "  case $cmd in",
    ...cases,
    "  esac",
    "}",
    'if [ "$funcstack[1]" = "_dwm" ]; then _dwm "$@"; else compdef _dwm dwm; fi',
    "",
  ].join("\n");
}

/** Text inside a fish single-quoted string. */
function fishText(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
}

/** What fish completes after one option: nothing (a switch), files, run ids, a list, or any word. */
function fishValue(o: OptionSpec): string {
  const v = o.values;
  if (o.type === "boolean") return "";
  if (v === "file") return " -r -F";
  if (v === "run") return " -x -a '(__dwm_runs)'";
  return Array.isArray(v) ? ` -x -a '${v.join(" ")}'` : " -x";
}

/** fish's lines of one command: the command itself, its arguments, and each option. */
function fishCommand(c: CommandSpec): string[] {
  const when = `-n '__fish_seen_subcommand_from ${c.name}'`;
  const kind = positionalKind(c);
  return [
    `complete -c dwm -n __fish_use_subcommand -a ${c.name} -d '${fishText(c.summary)}'`,
    ...(kind === "file" ? [`complete -c dwm ${when} -F`] : []),
    ...(kind === "run" ? [`complete -c dwm ${when} -a '(__dwm_runs)'`] : []),
    ...Object.entries(c.options).map(
      ([n, o]) => `complete -c dwm ${when} -l ${n}${fishValue(o)} -d '${fishText(o.description)}'`,
    ),
  ];
}

/** fish: one `complete` line per command and per option. */
export function fishScript(commands: readonly CommandSpec[]): string {
  const lines = [
    "# dwm completion for fish. Load it now: dwm completion fish | source",
    "# or for every shell: dwm completion fish > ~/.config/fish/completions/dwm.fish",
    "complete -c dwm -f",
    `function __dwm_runs; ${RUN_IDS}; end`,
    ...commands.flatMap(fishCommand),
  ];
  return `${lines.join("\n")}\n`;
}

/** The completion script of `shell` for these commands. */
export function completionScript(shell: Shell, commands: readonly CommandSpec[]): string {
  if (shell === "bash") return bashScript(commands);
  if (shell === "zsh") return zshScript(commands);
  return fishScript(commands);
}
