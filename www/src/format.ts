// Numbers as people read them.

/** `1.4 MB`, `812 kB`, `950 B`. */
export function bytes(count: number): string {
  if (count >= 1_000_000) return `${(count / 1_000_000).toFixed(1)} MB`;
  if (count >= 1_000) return `${Math.round(count / 1_000)} kB`;
  return `${count} B`;
}

/** `4.0 s`, `2 min 5 s`. */
export function seconds(value: number): string {
  if (value < 60) return `${value.toFixed(1)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

/** `12,345`. */
export function count(value: number): string {
  return value.toLocaleString('en-US');
}

/** `2026-11-23` (UTC). */
export function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `2026-11-23 14:05 UTC`. */
export function dateTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
