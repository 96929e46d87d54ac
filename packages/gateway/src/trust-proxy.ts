import proxyAddr from '@fastify/proxy-addr';
import type { FastifyRequest } from 'fastify';

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

/**
 * Whether the client reached us over https: the connection is TLS, or a trusted proxy in front
 * says so (any `https` in X-Forwarded-Proto, which proxies append to, or `proto=https` in
 * Forwarded). A client claiming https it does not use only makes its own cookies Secure.
 */
export function isHttps(req: FastifyRequest, trust: TrustProxy): boolean {
  const socket = req.raw.socket as { encrypted?: boolean; remoteAddress?: string } | undefined;
  if (socket?.encrypted) return true;
  if (!socket?.remoteAddress || !trust(socket.remoteAddress, 0)) return false;
  const header = (name: string) => {
    const v = req.headers[name];
    return (Array.isArray(v) ? v.join(',') : (v ?? '')).toLowerCase();
  };
  return (
    header('x-forwarded-proto')
      .split(',')
      .some((p) => p.trim() === 'https') || /(^|[;,\s])proto="?https"?([;,\s]|$)/.test(header('forwarded'))
  );
}
