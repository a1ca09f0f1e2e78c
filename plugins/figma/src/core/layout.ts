// Where "Make variants" puts its copies: a row to the right of the source frame,
// with clear spacing, slid further right past anything already there, so a copy
// never lands on top of another node.

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Spacing between copies: proportional to the frame so it reads as a gap at any zoom. */
export function gapFor(box: Box): number {
  return Math.max(40, Math.round(Math.min(box.width, box.height) * 0.1));
}

function overlaps(a: Box, b: Box, margin: number): boolean {
  return a.x < b.x + b.width + margin && b.x < a.x + a.width + margin && a.y < b.y + b.height + margin && b.y < a.y + a.height + margin;
}

/**
 * `count` boxes the size of `source`, side by side on its row.
 *
 * The whole row moves right until it clears every obstacle by `gap`; each move
 * jumps past the rightmost blocking obstacle, so it ends after at most one move
 * per obstacle.
 */
export function placeVariants(source: Box, count: number, obstacles: readonly Box[], gap = gapFor(source)): Box[] {
  if (count < 1) return [];
  const rowWidth = count * source.width + (count - 1) * gap;
  let x = source.x + source.width + gap;
  for (let moves = 0; moves <= obstacles.length; moves++) {
    const row = { x, y: source.y, width: rowWidth, height: source.height };
    const blocking = obstacles.filter((o) => o.width > 0 && o.height > 0 && overlaps(row, o, gap));
    if (blocking.length === 0) break;
    x = Math.max(...blocking.map((o) => o.x + o.width)) + gap;
  }
  return Array.from({ length: count }, (_, i) => ({ x: x + i * (source.width + gap), y: source.y, width: source.width, height: source.height }));
}
