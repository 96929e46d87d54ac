import getPort from 'get-port';

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return getPort({ host: '127.0.0.1' });
}
