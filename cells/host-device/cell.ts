// host-device: the node side of the pod network. The router IP (first address of the pod CIDR, every
// pod's gateway) lives on `cilia_host`, one end of a veth pair (`cilia_host`/`cilia_net`, as Cilium's
// cilium_host/cilium_net: this kernel has no dummy device). Because the router IP is a local address,
// the node answers the pods' ARP for it and accepts what they send to the node. Idempotent: an agent
// restart finds the pair in place and leaves it alone.

import { ConfigError, type Health, IHealth, ILifecycle, ILogger, type Lifecycle, type Logger, config, invoke, module, token } from '../../pkg/hive/index.js';
import { Netlink, setSysctl } from '../../pkg/netlink/index.js';
import { IIpam } from '../ipam/types.js';

interface HostDeviceConfig {
  readonly hostDevice: string;
  readonly hostDevicePeer: string;
}
const IHostDeviceConfig = token<Readonly<HostDeviceConfig>>('HostDeviceConfig');

/** Creates (if missing) the host veth pair, brings it up and puts the router IP on it. */
export function ensureHostDevice(nl: Netlink, name: string, peer: string, routerIP: string): number {
  let link = nl.getLink(name);
  if (!link) {
    nl.addVeth({ name, peerName: peer });
    link = nl.getLink(name)!;
  }
  if (!link.up) nl.setUp(link.index);
  const p = nl.getLink(peer);
  if (p && !p.up) nl.setUp(p.index);
  nl.replaceAddress({ address: `${routerIP}/32`, dev: link.index });
  for (const dev of [name, peer]) {
    try {
      setSysctl(`net/ipv6/conf/${dev}/disable_ipv6`, '1');
    } catch {
      /* no IPv6 in this kernel: nothing to disable */
    }
  }
  return link.index;
}

export const HostDeviceCell = module(
  'host-device',
  'The node side of the pod network: cilia_host with the router IP',
  config(IHostDeviceConfig, {
    hostDevice: { doc: 'Name of the host device holding the router IP', format: String, default: 'cilia_host' },
    hostDevicePeer: { doc: 'Name of its veth peer', format: String, default: 'cilia_net' },
  }),
  invoke('host-device', [IHostDeviceConfig, IIpam, ILifecycle, ILogger, IHealth], (cfg, ipam, lc: Lifecycle, log: Logger, health: Health) => {
    for (const [flag, v] of [['--host-device', cfg.hostDevice], ['--host-device-peer', cfg.hostDevicePeer]] as const) {
      if (!v || v.length > 15 || /[/\s:]/.test(v)) throw new ConfigError(`invalid value for ${flag}: ${JSON.stringify(v)} is not a valid interface name (1-15 characters)`);
    }
    lc.append({
      name: 'host-device',
      onStart: () => {
        const nl = Netlink.open();
        try {
          const ifindex = ensureHostDevice(nl, cfg.hostDevice, cfg.hostDevicePeer, ipam.routerIP);
          log.info('host device ready', { device: cfg.hostDevice, ifindex, routerIP: ipam.routerIP });
          health.ok(`${cfg.hostDevice} holds ${ipam.routerIP}`);
        } finally {
          nl.close();
        }
      },
    });
  }),
);
