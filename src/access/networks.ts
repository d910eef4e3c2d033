import { BlockList, isIP } from 'node:net';

/**
 * Whether an address belongs to one of the listed networks (IP addresses or CIDRs, IPv4 and
 * IPv6; an IPv4 client seen as `::ffff:a.b.c.d` on a dual-stack socket matches IPv4 entries).
 * Node's BlockList does the matching; entries are validated by the config schema.
 */
export function networkMatcher(entries: readonly string[]): (address: string | undefined) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return (address) => {
    if (!address) return false;
    const family = isIP(address);
    if (family === 0) return false;
    return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * What a per-address rate limit counts a client as: an IPv4 address as is (also when seen as
 * `::ffff:a.b.c.d` on a dual-stack socket), an IPv6 address by its /64. One subscriber or host is
 * routinely given a whole /64, and limiting each of its addresses on its own would let it take a
 * new budget with every source address it picks. Anything that is not an IP address counts as
 * `unknown`, one client.
 */
export function limitedAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  const plain = address.split('%')[0]!;
  if (plain.startsWith('::ffff:') && isIP(plain.slice(7)) === 4) return plain.slice(7);
  const family = isIP(plain);
  if (family === 4) return plain;
  // Not an address (what a proxy wrote instead of one): one bucket for all such clients, never one per text.
  if (family === 0) return 'unknown';
  const [left = '', right] = plain.split('::') as [string, string | undefined];
  const head = left === '' ? [] : left.split(':');
  const tail = right === undefined || right === '' ? [] : right.split(':');
  const groups = right === undefined ? head : [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
