import { BlockList, isIP, type Socket } from 'node:net';

/** The trusted proxies' networks (addresses or CIDR blocks, IPv4 or IPv6) as one list to check against. */
export function trustedList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, prefix] = entry.split('/');
    const family = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(addr!, family);
    else list.addSubnet(addr!, Number(prefix), family);
  }
  return list;
}

export function isTrusted(list: BlockList, addr: string): boolean {
  const family = isIP(addr);
  if (family === 0) return false;
  return list.check(addr, family === 6 ? 'ipv6' : 'ipv4');
}

/** The verdict for each client connection, with the list it was checked against (a reload brings a new one). */
const socketVerdicts = new WeakMap<Socket, { readonly list: BlockList; readonly trusted: boolean }>();

/**
 * Whether a connection's peer (`remote`, its normalised address) is a trusted proxy. Checked once
 * per connection and list: a keep-alive connection's requests all come from the same peer, and
 * checking a BlockList parses the address every time.
 */
export function isTrustedPeer(list: BlockList, socket: Socket, remote: string): boolean {
  const known = socketVerdicts.get(socket);
  if (known?.list === list) return known.trusted;
  const trusted = isTrusted(list, remote);
  socketVerdicts.set(socket, { list, trusted });
  return trusted;
}

/** `::ffff:1.2.3.4` (IPv4 on a dual-stack socket) is the same client as `1.2.3.4`. */
export function normalise(addr: string | undefined): string | undefined {
  if (!addr) return undefined;
  return addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}
