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
