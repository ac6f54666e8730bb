// The built dashboard is embedded in the binary and loaded on phones: it
// must stay small. Sums every file in dist/ gzipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = new URL('../dist/', import.meta.url).pathname;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

test('the gzipped bundle is under 500 kB', () => {
  const all = files(dist);
  assert.ok(all.some((p) => p.endsWith('index.html')), 'dist/index.html exists (run npm run build)');
  let raw = 0;
  let gz = 0;
  for (const p of all) {
    const b = readFileSync(p);
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  console.log(`bundle: ${all.length} files, ${(raw / 1024).toFixed(1)} kB raw, ${(gz / 1024).toFixed(1)} kB gzipped`);
  assert.ok(gz < 500 * 1024, `gzipped ${gz} bytes`);
});
