import { join } from 'node:path';
import { SAMPLE_TENANT } from '@agent-fleet/rag';
import { type DevCredentials, devUserToken } from './keys.ts';

/** What `fleet start` knows once everything is up: enough to print how to use the fleet. */
export interface BannerFacts {
  gatewayUrl: string;
  llmBaseUrls: string;
  /** The Redis URL, or `cluster <nodes>`. */
  redis: string;
  databaseUrl: string;
  /** Which of Redis, Postgres and the LLM servers this command started (the rest are external). */
  embedded: { redis: boolean; postgres: boolean; llm: boolean };
  appendfsync: string;
  /** How many worker processes run, and who decides. */
  workers: string;
  /** Where service logs go; undefined when they go to the terminal (`--logs`). */
  logDir: string | undefined;
  fleetDir: string;
  /** The Prometheus configuration that scrapes every process of this fleet. */
  scrapeConfig: string;
  sample: { documents: number; chunks: number };
  authOff: boolean;
  /** Where traces go (OTEL_EXPORTER_OTLP_ENDPOINT), when they are on. */
  traces: string | undefined;
  /** The development credentials, when the gateway verifies tokens with their secret. */
  dev: DevCredentials | undefined;
}

const USER_TOKEN_TTL_SECONDS = 24 * 3600;

/** The text `fleet start` prints once the fleet is up; every URL and command in it works as shown. */
export async function startBanner(f: BannerFacts): Promise<string> {
  const base = f.gatewayUrl;
  const where = (embedded: boolean) => (embedded ? 'started here, restarted if it dies' : 'external');
  const token = f.dev ? await devUserToken(f.dev.jwtSecret, 'alice', USER_TOKEN_TTL_SECONDS) : undefined;
  const auth = f.authOff ? '' : ' -H "authorization: Bearer $TOKEN"';
  return [
    '',
    'agent-fleet is running',
    `  gateway     ${base}   (started here, restarted if it dies)`,
    `  dashboard   ${base}/admin/queues   (Bull Board${f.authOff ? '' : `; sign in at ${base}/admin/login with the admin key`})`,
    `  API docs    ${base}/docs`,
    `  metrics     ${base}/metrics   (every process: prometheus --config.file=${f.scrapeConfig})`,
    '  fleet top   bash scripts/with-tools.sh pnpm fleet top   (the fleet live in this terminal)',
    `  LLM         ${f.llmBaseUrls}   (${f.embedded.llm ? 'the simulator, started here, restarted if it dies' : 'external'})`,
    `  Redis       ${f.redis}   (${f.embedded.redis ? `AOF, appendfsync ${f.appendfsync}, ${where(true)}` : 'external'})`,
    `  Postgres    ${f.databaseUrl}   (${where(f.embedded.postgres)})`,
    `  workers     ${f.workers}`,
    `  logs        ${f.logDir ?? 'this terminal'}`,
    `  traces      ${f.traces ?? 'off   (set OTEL_EXPORTER_OTLP_ENDPOINT to export OpenTelemetry traces)'}`,
    '',
    `sample corpus: ${f.sample.documents} compliance policies of tenant ${SAMPLE_TENANT} (${f.sample.chunks} chunks)`,
    'demo users:    alice (compliance), ivan (compliance, aml-investigators), lena (legal, senior-management)',
    '',
    ...credentialLines(f, token),
    `  curl -s -X POST ${base}/v1/users/alice/messages${auth} -H 'content-type: application/json' -d '{"text":"How long do we keep customer due diligence records?"}'`,
    `  curl -s${auth} ${base}/v1/turns/<turnId>`,
    `  curl -s${auth} ${base}/v1/users/alice/history`,
    `  bash scripts/with-tools.sh pnpm fleet ingest ./my-policies --tenant ${SAMPLE_TENANT} --acl compliance`,
    '',
    'Ctrl-C stops everything (workers finish their turns first).',
    '',
  ].join('\n');
}

function credentialLines(f: BannerFacts, token: string | undefined): string[] {
  if (f.authOff) return ['authentication is off (AUTH_MODE=off): every caller is an admin. try:'];
  if (!f.dev || !token) return ['try:', '  export TOKEN=<an API key or a user token>'];
  return [
    `development credentials (the key and the token secret are kept in ${join(f.fleetDir, 'dev-auth.json')}):`,
    `  admin key    ${f.dev.adminKey}   (also signs you in to Bull Board in a browser)`,
    `  alice token  ${token}   (valid 24 h; npm start prints a new one)`,
    '',
    'try:',
    `  export TOKEN=${token}`,
  ];
}
