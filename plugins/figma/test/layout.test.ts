import { describe, expect, it } from "vitest";
import { gapFor, placeVariants, type Box } from "../src/core/layout.js";

const source: Box = { x: 0, y: 0, width: 200, height: 100 };
const intersects = (a: Box, b: Box): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

describe("placeVariants", () => {
  it("puts copies side by side to the right, with clear spacing", () => {
    const boxes = placeVariants(source, 3, [source]);
    const gap = gapFor(source);
    expect(boxes.map((b) => b.x)).toEqual([200 + gap, 400 + 2 * gap, 600 + 3 * gap]);
    expect(boxes.every((b) => b.y === 0 && b.width === 200 && b.height === 100)).toBe(true);
  });

  it("slides the row past nodes already there, never on top of them", () => {
    const obstacles: Box[] = [source, { x: 300, y: 50, width: 80, height: 80 }, { x: 700, y: -20, width: 100, height: 40 }];
    const boxes = placeVariants(source, 2, obstacles);
    for (const box of boxes) for (const o of obstacles) expect(intersects(box, o)).toBe(false);
    expect(boxes[0].x).toBeGreaterThanOrEqual(800);
  });

  it("ignores nodes on other rows", () => {
    const boxes = placeVariants(source, 2, [{ x: 300, y: 500, width: 100, height: 100 }]);
    expect(boxes[0].x).toBe(200 + gapFor(source));
  });

  it("keeps spacing between copies and from obstacles", () => {
    const obstacles = [{ x: 250, y: 0, width: 10, height: 10 }];
    const [first] = placeVariants(source, 1, obstacles, 40);
    expect(first.x).toBe(300);
  });

  it("makes nothing for zero copies", () => {
    expect(placeVariants(source, 0, [])).toEqual([]);
  });
});
