// A netlink request as data: the message to send and how to describe it in errors.
import type { MessageBuilder, NetlinkMessage } from './message.js';

/**
 * One request for `Netlink.transact`. Requests are built by the encoders of link.ts, address.ts, route.ts
 * and neighbour.ts, so several of them can be sent to the kernel in one datagram (one round trip).
 */
export interface NetlinkRequest {
  /** The message; its sequence number is assigned when it is sent. */
  readonly message: MessageBuilder;
  /** What the request does, for error messages: `"RTM_NEWLINK veth lxc12ab"`. */
  readonly op: string;
  /** A dump (NLM_F_DUMP): the reply is many messages ending with NLMSG_DONE, not an ack. */
  readonly dump?: boolean;
}

/** The data messages the kernel sent back for one request (dump entries, an echo, a get reply). */
export type NetlinkReply = NetlinkMessage[];
