/** How many answers came back with each status, e.g. `{ 401: 10, 429: 50 }`: the outcome of a burst sent at once. */
export function statusCounts(results: Array<{ status: number }>): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}
