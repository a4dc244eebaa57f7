/**
 * Node.js lines Signalbox still runs on after their end of life, with that date: package.json's engines
 * (>=20.19) keeps Node 20 working, but it gets no security fixes any more, so a start on it says so once.
 * docs/deploy.md section 1 recommends 22 or 24.
 */
const END_OF_LIFE: Readonly<Record<number, string>> = { 20: '2026-04-30' };

/** The one warning line for a start on `nodeVersion` (process.versions.node), or null on a supported line. */
export function nodeEndOfLifeWarning(nodeVersion: string): string | null {
  const major = Number(nodeVersion.split('.')[0]);
  const ended = END_OF_LIFE[major];
  if (!ended) return null;
  return `Node.js ${nodeVersion}: Node ${major} reached its end of life on ${ended} and gets no security fixes; move to Node 22 or 24 (docs/deploy.md section 1)`;
}
