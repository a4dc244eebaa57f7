/**
 * Writes .env.example, the operator's list of every variable with its default and what it is for, from
 * the ENVIRONMENT table in app/config/environment.ts (with docs/configuration.md and docs/security.md's table of
 * limits, from the same table). Run it with `npm run docs:env`; a test fails when the committed
 * file differs from what this renders, so the example cannot drift from what the server reads.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ENVIRONMENT } from '../app/config/environment.js';

type Doc = string | readonly string[];

/** What the example needs of a section of the table (ENVIRONMENT, or a test's own). */
export interface ExampleSection {
  doc?: Doc;
  variables: ReadonlyArray<{ env: string; doc?: Doc; parse: { example: string } }>;
}

const HEADER = [
  'Signalbox configuration. Copy to .env (or set in the systemd unit); the process environment wins over .env.',
  'Empty means unset. A bad value stops the start with one line naming the variable.',
];

const comment = (doc: Doc | undefined): string[] => (doc === undefined ? [] : [doc].flat().map((line) => `# ${line}`));

/** The text of .env.example: the header, then each section (its doc, then each variable's doc and `NAME=default`). */
export function renderEnvExample(sections: readonly ExampleSection[] = ENVIRONMENT): string {
  const blocks = [
    comment(HEADER),
    ...sections.map((section) => [...comment(section.doc), ...section.variables.flatMap((v) => [...comment(v.doc), `${v.env}=${v.parse.example}`])]),
  ];
  return blocks.map((lines) => lines.join('\n')).join('\n\n') + '\n';
}

async function main(): Promise<void> {
  // Loaded here, not at the top: gen-api-docs.ts imports the whole app, which renderEnvExample does not need.
  const { repoRoot } = await import('./gen-api-docs.js');
  const file = join(repoRoot(), '.env.example');
  writeFileSync(file, renderEnvExample());
  process.stdout.write(`wrote ${file}\n`);
  // The configuration page comes from the same table, so one command keeps both current.
  const { renderConfigDoc } = await import('./gen-config-doc.js');
  const page = join(repoRoot(), 'docs', 'configuration.md');
  writeFileSync(page, renderConfigDoc());
  process.stdout.write(`wrote ${page}\n`);
  // So does docs/security.md's table of every limit, between its markers.
  const { withLimitsTable } = await import('./gen-limits-table.js');
  const security = join(repoRoot(), 'docs', 'security.md');
  writeFileSync(security, withLimitsTable(readFileSync(security, 'utf8')));
  process.stdout.write(`wrote ${security}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`gen-env-example: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
