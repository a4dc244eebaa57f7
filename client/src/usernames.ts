/** A username as the server compares it: a leading `@` dropped, lower case (docs/api.md "Conventions"). */
export function normaliseUsername(input: string): string {
  return input.replace(/^@/, '').toLowerCase();
}
