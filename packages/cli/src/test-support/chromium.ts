// Real headless Chromium (Debian's /usr/bin/chromium, which scripts/ci-setup.sh installs) driven
// by playwright-core, for the tests that look at `dwm report`'s page as a browser shows it.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "@dwm/test-utils";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.DWM_CHROMIUM ?? "/usr/bin/chromium";

/** Where the tests leave what a person may want to look at (screenshots): .ci-reports/cli at the repository root. */
export const ARTIFACTS = fileURLToPath(new URL("../../../../.ci-reports/cli", import.meta.url));

/** A page in a fresh browser profile, and what went wrong while it was used. */
export interface BrowserPage {
  page: Page;
  /** Console errors, uncaught page errors, and requests for anything but a file: URL. */
  problems: string[];
  close: () => Promise<void>;
}

/**
 * Start Chromium headless with a fresh profile and nothing that reaches out on its own
 * (no QUIC, sync, component updates or background networking). Every request that is not
 * for a file: URL is refused and counted as a problem: the report must need no network.
 */
export async function openBrowser(): Promise<BrowserPage> {
  const profile = makeTempDir("dwm-chromium-");
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile.path, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1300, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  } catch (e) {
    profile.cleanup();
    throw e;
  }
  const problems: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:")) return route.continue();
    problems.push(`request ${url}`);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  return {
    page,
    problems,
    close: async () => {
      await context.close();
      profile.cleanup();
    },
  };
}

/** Save a screenshot of the whole page as a test artifact; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
