// The safe_default wording rule, public (`safeDefaultProblem`) so a tool that writes plans
// can check a gate's wording the way the evaluator will; the rules read it from here.
/** Lower-case word tokens ([a-z0-9]+) of a text. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

const BANNED_WORDS = new Set([
  "continue",
  "continues",
  "continuing",
  "proceed",
  "proceeds",
  "proceeding",
  "automatically",
  "otherwise",
  "then",
  "or",
  "afterward",
  "afterwards",
]);
const BANNED_PHRASES = ["after writing", "after shell"];
const PHRASE = "[a-z0-9 ,.'_()-]+";
const APPROVAL = "(?:(?:user|human|explicit|operator) )?approval";
const FORMS = [
  new RegExp(`^stop before ${PHRASE} and ask for ${APPROVAL}$`),
  new RegExp(`^do not ${PHRASE} without ${APPROVAL}$`),
  new RegExp(`^preserve ${PHRASE} and ask before ${PHRASE}$`),
];

/**
 * Why a safe_default is not a blocking default, or null when it is one. Checks
 * words, not substrings: "authentication" does not contain the word "then".
 * Case, repeated spaces and one trailing period are ignored.
 */
export function safeDefaultProblem(text: string): string | null {
  const s = text.toLowerCase().replace(/\s+/g, " ").trim().replace(/\.$/, "");
  if (s.includes("/")) return "contains '/', which offers an alternative to stopping";
  const tokens = words(s);
  const banned = tokens.filter((t) => BANNED_WORDS.has(t));
  if (banned.length > 0)
    return `uses ${[...new Set(banned)].map((b) => `"${b}"`).join(", ")}, which lets the work go on without approval`;
  const joined = ` ${tokens.join(" ")} `;
  const phrase = BANNED_PHRASES.find((p) => joined.includes(` ${p} `));
  if (phrase) return `uses "${phrase}", which lets the work go on without approval`;
  if (!FORMS.some((re) => re.test(s)))
    return 'does not read "stop before ... and ask for approval", "do not ... without approval" or "preserve ... and ask before ..."';
  return null;
}
