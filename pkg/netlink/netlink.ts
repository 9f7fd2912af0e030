// The rtnetlink handle: one NETLINK_ROUTE socket bound to one network namespace, with typed operations
// on links, addresses, routes and neighbours. Every call is synchronous (one kernel round trip, a few µs).
import fs from 'node:fs';
import { openNetns, withNetns } from '../netns/with-netns.js';
import type { NetnsRef } from '../netns/paths.js';
import {
  NETLINK_ROUTE, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN,
  NLMSG_NOOP, NLMSG_OVERRUN, NLMSGERR_ATTR_MSG, RT_TABLE_MAIN,
} from './constants.js';
import { Errno, NetlinkError } from './errors.js';
import { addressRequest, decodeAddress, dumpAddressesRequest, familyNumber, type Address, type AddressSpec, type FamilyName } from './address.js';
import {
  decodeLink, deleteLinkRequest, dumpLinksRequest, getLinkRequest, newVethRequest, setLinkRequest,
  type Link, type LinkChange, type LinkRef, type VethOptions,
} from './link.js';
import { align4, attrString, parseAttributes, readS32, readU32, splitMessages, type NetlinkMessage } from './message.js';
import { decodeNeighbour, dumpNeighboursRequest, neighbourRequest, type Neighbour, type NeighbourSpec } from './neighbour.js';
import type { NetlinkReply, NetlinkRequest } from './request.js';
import { decodeRoute, dumpRoutesRequest, isClonedRoute, routeRequest, type Route, type RouteSpec } from './route.js';
import { NetlinkSocket } from './socket.js';

/** Options of `Netlink.open`. */
export interface NetlinkOptions {
  /** The netns to work in (name, path or fd); default: the calling thread's. */
  readonly netns?: NetnsRef;
  /** How long to wait for the kernel's answer before failing with ETIMEDOUT. Default 5000 ms. */
  readonly timeoutMs?: number;
}

/** An address to add, replace or delete through a `Netlink` handle; `dev` is a name or an ifindex. */
export type AddressOptions = Omit<AddressSpec, 'ifindex'> & { readonly dev: LinkRef };
/** A route to add, replace or delete through a `Netlink` handle; `dev` is a name or an ifindex. */
export type RouteOptions = Omit<RouteSpec, 'ifindex'> & { readonly dev?: LinkRef };
/** A neighbour entry to add, replace or delete through a `Netlink` handle; `dev` is a name or an ifindex. */
export type NeighbourOptions = Omit<NeighbourSpec, 'ifindex'> & { readonly dev: LinkRef };

/** Filters of the list methods; unset = no filter. */
export interface ListFilter {
  /** Only this device. */
  readonly dev?: LinkRef;
  /** Default `inet` (IPv4). */
  readonly family?: FamilyName;
}

// A busy node (pods coming and going) can interrupt several dumps in a row; each attempt is cheap.
const MAX_DUMP_ATTEMPTS = 20;

/** The kernel's extended error message (extack) of an NLMSG_ERROR or NLMSG_DONE, if any. */
function extackOf(msg: NetlinkMessage): string | undefined {
  if ((msg.flags & NLM_F_ACK_TLVS) === 0) return undefined;
  let off = 4;
  if (msg.type === NLMSG_ERROR) off += (msg.flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN : readU32(msg.payload, 4);
  const text = parseAttributes(msg.payload, align4(off)).get(NLMSGERR_ATTR_MSG);
  return text ? attrString(text) : undefined;
}

/** Progress of one request of a `transact` batch. */
interface Pending {
  done: boolean;
  interrupted: boolean;
  error?: NetlinkError;
  readonly replies: NetlinkMessage[];
}

/**
 * A NETLINK_ROUTE handle bound to one network namespace for its whole life: the one its socket was
 * created in. Not shared between threads. Every method blocks the event loop for one kernel round trip
 * (rtnetlink answers synchronously); dumps take a few more for large tables.
 *
 * Failures the kernel reports throw `NetlinkError` (`errno`, `op`, kernel `extack`); delete methods
 * return false instead of throwing when the object is missing.
 */
export class Netlink {
  private seq = Math.floor(Math.random() * 0x7fffffff);

  private constructor(private readonly socket: NetlinkSocket) {}

  /**
   * Opens a handle on the calling thread's netns, or on `opts.netns`: the socket is then created inside
   * that netns (withNetns) and stays bound to it after the thread switches back.
   * @throws NetlinkError when the socket can't be set up; SyscallError/Node errors when the netns can't be entered.
   */
  static open(opts: NetlinkOptions = {}): Netlink {
    const create = (): NetlinkSocket => new NetlinkSocket(NETLINK_ROUTE, opts.timeoutMs ?? 5000);
    return new Netlink(opts.netns === undefined ? create() : withNetns(opts.netns, create));
  }

  /** Closes the socket. Calling it twice is harmless; other calls afterwards throw EBADF. */
  close(): void {
    this.socket.close();
  }

  /**
   * Sends `requests` to the kernel in one datagram and collects each one's reply messages. The kernel
   * handles them in order and carries on after a failure, so all of them are attempted; then the first
   * failure (in request order) is thrown. At most one of them may be a dump.
   * @throws NetlinkError the first request's error; TypeError for more than one dump.
   */
  transact(requests: readonly NetlinkRequest[]): NetlinkReply[] {
    if (requests.filter((r) => r.dump).length > 1) throw new TypeError('Netlink.transact: at most one dump per batch');
    const batchOp = requests.length === 1 ? requests[0].op : `${requests[0]?.op ?? 'empty batch'} (+${requests.length - 1})`;
    const state = this.exchange(requests, batchOp);
    const failed = state.find((s) => s.error !== undefined);
    if (failed?.error) throw failed.error;
    return state.map((s) => s.replies);
  }

  /**
   * Runs one dump request and returns its messages, repeating it when the kernel flags the dump as
   * interrupted (NLM_F_DUMP_INTR: the table changed while it was being read).
   * @throws NetlinkError the dump's error, or EAGAIN when it stays inconsistent.
   */
  dump(request: NetlinkRequest): NetlinkMessage[] {
    for (let attempt = 0; attempt < MAX_DUMP_ATTEMPTS; attempt++) {
      const [state] = this.exchange([request], request.op);
      if (state.error) throw state.error;
      if (!state.interrupted) return state.replies;
    }
    throw new NetlinkError(`${request.op} (kept changing)`, Errno.EAGAIN);
  }

  private exchange(requests: readonly NetlinkRequest[], batchOp: string): Pending[] {
    if (requests.length === 0) return [];
    const bySeq = new Map<number, number>();
    const datagram = Buffer.concat(requests.map((r, i) => {
      this.seq = (this.seq + 1) >>> 0;
      bySeq.set(this.seq, i);
      return r.message.finish(this.seq);
    }));
    const state: Pending[] = requests.map(() => ({ done: false, interrupted: false, replies: [] }));
    this.socket.send(datagram, batchOp);
    let open = requests.length;
    while (open > 0) {
      for (const msg of splitMessages(this.socket.receive(batchOp))) {
        const i = bySeq.get(msg.seq);
        if (i === undefined || state[i].done) continue; // stale answer to an earlier, abandoned request
        const s = state[i];
        if (msg.type === NLMSG_NOOP) continue;
        if (msg.type === NLMSG_ERROR || msg.type === NLMSG_DONE || msg.type === NLMSG_OVERRUN) {
          const errno = msg.type === NLMSG_OVERRUN ? 105 /* ENOBUFS */ : msg.payload.length >= 4 ? -readS32(msg.payload, 0) : 0;
          if (errno > 0) s.error = new NetlinkError(requests[i].op, errno, extackOf(msg));
          s.done = true;
          open--;
          continue;
        }
        if ((msg.flags & NLM_F_DUMP_INTR) !== 0) s.interrupted = true;
        s.replies.push(msg);
      }
    }
    return state;
  }

  private one(request: NetlinkRequest): NetlinkMessage[] {
    return this.transact([request])[0];
  }

  /** Runs a delete request: true when something was deleted, false when the kernel says it was missing. */
  private deleted(request: NetlinkRequest, missing: readonly number[]): boolean {
    try {
      this.one(request);
      return true;
    } catch (err) {
      if (err instanceof NetlinkError && missing.includes(err.errno)) return false;
      throw err;
    }
  }

  // ---- links ----

  /** Every device of the netns. @throws NetlinkError */
  listLinks(): Link[] {
    return this.dump(dumpLinksRequest()).map(decodeLink);
  }

  /**
   * One device by name or ifindex; undefined when there is none.
   * @throws NetlinkError for other failures (EINVAL for an invalid name).
   */
  getLink(ref: LinkRef): Link | undefined {
    try {
      const [msg] = this.one(getLinkRequest(ref));
      return msg ? decodeLink(msg) : undefined;
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === Errno.ENODEV) return undefined;
      throw err;
    }
  }

  /**
   * The ifindex of a device; a number is returned as is (no round trip).
   * @throws NetlinkError ENODEV when there is no such device.
   */
  ifindex(ref: LinkRef): number {
    if (typeof ref === 'number') return ref;
    const [msg] = this.one(getLinkRequest(ref));
    return decodeLink(msg).index;
  }

  /**
   * Creates a veth pair: `name` in this handle's netns, `peerName` in `peerNetns` (default: here too),
   * in one request. Returns this side as created.
   * @throws NetlinkError EEXIST when a device of either name exists (in its netns), EINVAL for a bad name;
   *   TypeError for a bad MAC; Node's ENOENT error for a missing peer netns.
   */
  addVeth(opts: VethOptions): Link {
    const peerFd = typeof opts.peerNetns === 'string' ? openNetns(opts.peerNetns) : opts.peerNetns;
    try {
      const [echo] = this.one(newVethRequest({ ...opts, peerNetnsFd: peerFd }));
      // NLM_F_ECHO gives the new device back (Linux >= 6.1); older kernels need a get.
      return echo ? decodeLink(echo) : this.getLinkOrThrow(opts.name);
    } finally {
      if (typeof opts.peerNetns === 'string' && peerFd !== undefined) fs.closeSync(peerFd);
    }
  }

  private getLinkOrThrow(ref: LinkRef): Link {
    return decodeLink(this.one(getLinkRequest(ref))[0]);
  }

  /** Changes several properties of a device in one request. @throws NetlinkError (ENODEV when missing). */
  setLink(ref: LinkRef, change: LinkChange): void {
    this.one(setLinkRequest(ref, change));
  }

  /** Brings a device up. @throws NetlinkError (ENODEV when missing). */
  setUp(ref: LinkRef): void {
    this.setLink(ref, { up: true });
  }

  /** Takes a device down. @throws NetlinkError (ENODEV when missing). */
  setDown(ref: LinkRef): void {
    this.setLink(ref, { up: false });
  }

  /** Sets a device's MTU. @throws NetlinkError (ENODEV when missing, EINVAL out of range). */
  setMtu(ref: LinkRef, mtu: number): void {
    this.setLink(ref, { mtu });
  }

  /** Sets a device's MAC address. @throws NetlinkError; TypeError for a bad MAC. */
  setMac(ref: LinkRef, mac: string): void {
    this.setLink(ref, { mac });
  }

  /**
   * Renames a device (Linux refuses while it is up: EBUSY).
   * @throws NetlinkError ENODEV, EEXIST (name taken), EBUSY, EINVAL (bad name).
   */
  setName(ref: LinkRef, name: string): void {
    this.setLink(this.ifindex(ref), { name });
  }

  /**
   * Moves a device into another netns (name, path or fd). It keeps its name and goes down.
   * @throws NetlinkError (ENODEV when missing, EEXIST when the name is taken there).
   */
  moveToNetns(ref: LinkRef, netns: NetnsRef): void {
    const fd = typeof netns === 'number' ? netns : openNetns(netns);
    try {
      this.setLink(ref, { netnsFd: fd });
    } finally {
      if (typeof netns !== 'number') fs.closeSync(fd);
    }
  }

  /**
   * Deletes a device (a veth takes its peer with it).
   * @returns false when there was no such device.
   * @throws NetlinkError for other failures.
   */
  deleteLink(ref: LinkRef): boolean {
    return this.deleted(deleteLinkRequest(ref), [Errno.ENODEV]);
  }

  // ---- addresses ----

  private addressSpec(opts: AddressOptions): AddressSpec {
    return { address: opts.address, scope: opts.scope, ifindex: this.ifindex(opts.dev) };
  }

  /** Adds an address. @throws NetlinkError EEXIST when present, ENODEV; TypeError for a bad address. */
  addAddress(opts: AddressOptions): void {
    this.one(addressRequest('add', this.addressSpec(opts)));
  }

  /** Adds an address or updates it when present. @throws NetlinkError; TypeError for a bad address. */
  replaceAddress(opts: AddressOptions): void {
    this.one(addressRequest('replace', this.addressSpec(opts)));
  }

  /**
   * Removes an address.
   * @returns false when the device did not have it.
   * @throws NetlinkError (ENODEV for a missing device); TypeError for a bad address.
   */
  deleteAddress(opts: AddressOptions): boolean {
    return this.deleted(addressRequest('delete', this.addressSpec(opts)), [Errno.EADDRNOTAVAIL]);
  }

  /** The addresses of the netns (default IPv4), optionally of one device. @throws NetlinkError */
  listAddresses(filter: ListFilter = {}): Address[] {
    const ifindex = filter.dev === undefined ? 0 : this.ifindex(filter.dev);
    return this.dump(dumpAddressesRequest(familyNumber(filter.family ?? 'inet'), ifindex)).map(decodeAddress);
  }

  // ---- routes ----

  private routeSpec(opts: RouteOptions): RouteSpec {
    const { dev, ...rest } = opts;
    return dev === undefined ? rest : { ...rest, ifindex: this.ifindex(dev) };
  }

  /**
   * Adds a route. @throws NetlinkError EEXIST when present, ENETUNREACH for an unreachable gateway
   * (use `onlink` or a link route to it first), ENODEV; TypeError for bad addresses.
   */
  addRoute(opts: RouteOptions): void {
    this.one(routeRequest('add', this.routeSpec(opts)));
  }

  /** Adds a route or replaces the one with the same key (dst, table, metric…). @throws as `addRoute`. */
  replaceRoute(opts: RouteOptions): void {
    this.one(routeRequest('replace', this.routeSpec(opts)));
  }

  /**
   * Deletes the route matching `opts` (unset fields match anything).
   * @returns false when no route matched.
   * @throws NetlinkError for other failures.
   */
  deleteRoute(opts: RouteOptions): boolean {
    return this.deleted(routeRequest('delete', this.routeSpec(opts)), [Errno.ESRCH]);
  }

  /**
   * The routes of one table (default main; 0 = every table), optionally only those out of one device.
   * Cached (cloned) routes are left out. @throws NetlinkError
   */
  listRoutes(filter: ListFilter & { readonly table?: number } = {}): Route[] {
    const ifindex = filter.dev === undefined ? undefined : this.ifindex(filter.dev);
    const family = familyNumber(filter.family ?? 'inet');
    return this.dump(dumpRoutesRequest(family, filter.table ?? RT_TABLE_MAIN, ifindex))
      .filter((m) => !isClonedRoute(m)).map(decodeRoute);
  }

  // ---- neighbours ----

  private neighbourSpec(opts: NeighbourOptions): NeighbourSpec {
    return { ip: opts.ip, mac: opts.mac, ifindex: this.ifindex(opts.dev) };
  }

  /** Adds a permanent neighbour entry. @throws NetlinkError EEXIST when present; TypeError for bad input. */
  addNeighbour(opts: NeighbourOptions): void {
    this.one(neighbourRequest('add', this.neighbourSpec(opts)));
  }

  /** Adds or overwrites a permanent neighbour entry. @throws NetlinkError; TypeError for bad input. */
  replaceNeighbour(opts: NeighbourOptions): void {
    this.one(neighbourRequest('replace', this.neighbourSpec(opts)));
  }

  /**
   * Deletes a neighbour entry.
   * @returns false when there was none.
   * @throws NetlinkError for other failures.
   */
  deleteNeighbour(opts: NeighbourOptions): boolean {
    return this.deleted(neighbourRequest('delete', this.neighbourSpec(opts)), [Errno.ENOENT]);
  }

  /** The neighbour entries of the netns (default IPv4), optionally of one device. @throws NetlinkError */
  listNeighbours(filter: ListFilter = {}): Neighbour[] {
    const ifindex = filter.dev === undefined ? 0 : this.ifindex(filter.dev);
    const family = familyNumber(filter.family ?? 'inet');
    return this.dump(dumpNeighboursRequest(family, ifindex)).map(decodeNeighbour);
  }
}
