import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
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
