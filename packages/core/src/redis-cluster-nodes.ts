import { z } from 'zod';
import { commaList } from './comma-list.ts';

/** A node of a Redis Cluster to connect through; the client discovers the others. */
export interface ClusterNodeAddress {
  host: string;
  port: number;
}

/** REDIS_CLUSTER_NODES, parsed: where to connect, and the credentials and TLS every node takes. */
export interface RedisClusterConfig {
  nodes: ClusterNodeAddress[];
  username?: string;
  password?: string;
  /** `rediss://` entries: every connection uses TLS. */
  tls: boolean;
}

/** `host:port` of a cluster node: a name or IPv4 address, or an IPv6 address in brackets. */
const HOST_PORT = /^(?<host>[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):(?<port>\d{1,5})$/;

function nodeAddress(hostPort: string): ClusterNodeAddress | null {
  const m = HOST_PORT.exec(hostPort);
  const port = Number(m?.groups?.port);
  if (!m?.groups?.host || port < 1 || port > 65535) return null;
  return { host: m.groups.host.replace(/^\[|\]$/g, ''), port };
}

export interface NodeEntry {
  node: ClusterNodeAddress;
  username: string;
  password: string;
  tls: boolean;
}

/** One entry: `host:port`, or `redis[s]://[[user]:password@]host[:port]` (no database: a cluster has one). */
function nodeEntry(entry: string): NodeEntry | null {
  if (!/^rediss?:\/\//.test(entry)) {
    const node = nodeAddress(entry);
    return node && { node, username: '', password: '', tls: false };
  }
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return null;
  }
  if (url.pathname.length > 1 || url.search || url.hash) return null;
  const node = nodeAddress(`${url.hostname}:${url.port || '6379'}`);
  return (
    node && {
      node,
      username: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      tls: url.protocol === 'rediss:',
    }
  );
}

const sameAccess = (a: NodeEntry, b: NodeEntry) =>
  a.username === b.username && a.password === b.password && a.tls === b.tls;

/**
 * REDIS_CLUSTER_NODES: comma-separated entries, `host:port` or `redis://` / `rediss://` URLs that
 * carry the credentials and ask for TLS; every entry must give the same ones.
 */
export const redisClusterNodesSchema = commaList(
  z.string().superRefine((entry, ctx) => {
    if (nodeEntry(entry) === null)
      ctx.addIssue({
        code: 'custom',
        message: `"${entry}" is not host:port with a port of 1-65535 (e.g. 10.0.0.5:6379) or a redis:// or rediss:// URL of a node`,
      });
  }),
  'give at least one node as host:port',
)
  .transform((entries) => entries.map((e) => nodeEntry(e)!))
  .superRefine((entries, ctx) => {
    if (entries.some((e) => !sameAccess(e, entries[0]!)))
      ctx.addIssue({
        code: 'custom',
        message: 'every entry must have the same scheme (redis:// or rediss://) and credentials',
      });
  })
  .transform((entries): RedisClusterConfig => {
    const { username, password, tls } = entries[0]!;
    return {
      nodes: entries.map((e) => e.node),
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      tls,
    };
  });
