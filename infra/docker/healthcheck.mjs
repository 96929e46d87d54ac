// Usage: node healthcheck.mjs <url>. Exits 0 when the URL answers 2xx within 3 s, 1 otherwise: the
// images' HEALTHCHECK (node:24-slim has no curl).
const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: node healthcheck.mjs <url>\n');
  process.exit(2);
}
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  process.stderr.write(`${url}: ${err.message}\n`);
  process.exit(1);
}
