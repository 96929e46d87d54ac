// Usage: node healthcheck.mjs <url>. Exits 0 when the URL answers 2xx within 3 s, 1 otherwise: the
// images' HEALTHCHECK (node:24-slim has no curl). `${NAME}` in the URL is read from the environment
// when the check runs: the images give it as HEALTHCHECK_URL=http://127.0.0.1:${PORT}/healthz, so the
// port checked is the one the deployable listens on, also when it is set at run time.
const template = process.argv[2];
if (!template) {
  process.stderr.write('usage: node healthcheck.mjs <url>\n');
  process.exit(2);
}
const url = template.replace(/\$\{(\w+)\}/g, (_, name) => process.env[name] ?? '');
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  process.stderr.write(`${url}: ${err.message}\n`);
  process.exit(1);
}
