// Small realistic inputs for live tests: a textured RGBA image and a soft elliptical mask.

export function texturedRgba(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = 90 + 80 * Math.sin(x / 9) + (y / height) * 60;
      data[i + 1] = 110 + 50 * Math.cos((x + y) / 14);
      data[i + 2] = 70 + (x / width) * 120;
      data[i + 3] = 255;
    }
  }
  return data;
}

export function softEllipse(width: number, height: number, box: [number, number, number, number]): Uint8Array {
  const [bx, by, bw, bh] = box;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r = Math.hypot((x - (bx + bw / 2)) / (bw / 2), (y - (by + bh / 2)) / (bh / 2));
      data[y * width + x] = Math.round(Math.min(1, Math.max(0, (1 - r) / 0.3)) * 255);
    }
  }
  return data;
}
