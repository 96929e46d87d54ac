import proxyAddr from '@fastify/proxy-addr';

/** Whether the peer at `address`, `hop` steps from the gateway, is a proxy whose X-Forwarded-* headers count. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * The trust rule of TRUST_PROXY: `true` (every peer), `false` (none), or a comma-separated list of
 * addresses, CIDRs and `loopback`, `linklocal`, `uniquelocal`. The one rule behind `req.ip` (what
 * per-address rate limits count) and `req.protocol`, so a client that reaches the gateway directly
 * cannot choose its address or scheme with a header. Throws on an entry that is not an address.
 */
export function trustProxy(spec: string): TrustProxy {
  if (spec === 'true') return () => true;
  if (spec === 'false') return () => false;
  return proxyAddr.compile(spec.split(',').map((s) => s.trim()));
}
