import { expect, test } from '@playwright/test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

// The first load of the app (the scripts, module preloads and style sheets
// web/dist/index.html names) is at most 60 kB of JS+CSS gzipped: measured on
// the build output, so the same build always gives the same number.
const budget = 60 * 1024;

test('first load: JS+CSS ≤ 60 kB gzipped', () => {
  const dist = join(import.meta.dirname, '..', 'dist');
  const index = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [...index.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="\/([^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  expect(files.length, 'index.html names its script').toBeGreaterThan(0);
  let total = 0;
  for (const f of files) {
    const size = gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
    console.log(`  ${f}: ${size} B gzipped`);
    total += size;
  }
  console.log(`  first load: ${total} B gzipped of ${budget}`);
  expect(total).toBeLessThanOrEqual(budget);
});

// uPlot and its CSS load only on a page with a chart (a dynamic import()):
// none of the first-load files holds its code, which is in a chunk of its own.
test('first load: no uPlot (the chart is a separate chunk)', () => {
  const dist = join(import.meta.dirname, '..', 'dist');
  const index = readFileSync(join(dist, 'index.html'), 'utf8');
  const first = [...index.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="\/([^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  // uPlot's own class names: in its code ('u-over') and in its CSS ('.uplot').
  const isUplot = (f: string) => /u-over|\.uplot\b/.test(readFileSync(join(dist, f), 'utf8'));
  expect(first.filter(isUplot), 'first-load files with uPlot in them').toEqual([]);
  const all = readdirSync(join(dist, 'assets')).map((f) => `assets/${f}`);
  const chunks = all.filter(isUplot);
  expect(chunks.filter((f) => f.endsWith('.js')).length, 'a JS chunk holds uPlot').toBe(1);
  expect(chunks.filter((f) => f.endsWith('.css')).length, 'a CSS file holds its styles').toBe(1);
  console.log(`  the chart: ${chunks.join(', ')}`);
});
