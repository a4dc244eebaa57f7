/**
 * 'up to date' when a committed generated file is exactly what its generator renders now; otherwise what
 * to do and the first line that differs, so `expect(verdict).toBe('up to date')` fails with a useful message.
 */
export function generatedFileVerdict(name: string, committed: string, rendered: string, howToFix: string): string {
  if (committed === rendered) return 'up to date';
  const a = committed.split('\n');
  const b = rendered.split('\n');
  const line = a.findIndex((l, i) => l !== b[i]);
  const at = line < 0 ? Math.min(a.length, b.length) : line;
  const inFile = `in ${name}:`;
  const renderedNow = 'rendered now:'.padEnd(inFile.length);
  return `${name} is out of date: ${howToFix}.\nFirst difference at line ${at + 1}:\n  ${inFile} ${JSON.stringify(a[at])}\n  ${renderedNow} ${JSON.stringify(b[at])}`;
}
