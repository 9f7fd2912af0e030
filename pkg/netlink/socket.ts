// A raw AF_NETLINK socket driven synchronously through libc (koffi): open, send, receive, close.
import { libc, lastErrno } from '../netns/libc.js';
import {
  AF_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, SOL_NETLINK,
} from './constants.js';
import { NetlinkError } from './errors.js';
import { writeU16, writeU32 } from './message.js';

const socketFn = libc.func('int socket(int domain, int type, int protocol)');
const bindFn = libc.func('int bind(int fd, const void *addr, uint32_t addrlen)');
const setsockoptFn = libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)');
const sendtoFn = libc.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)');
const recvfromFn = libc.func('long recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *addrlen)');
const closeFn = libc.func('int close(int fd)');

const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const MSG_TRUNC = 0x20;
const EINTR = 4;
const EAGAIN = 11;
const ETIMEDOUT = 110;
const EMSGSIZE = 90;

/**
 * Large enough for any datagram the kernel sends: it caps dump datagrams at 32 KiB (netlink_dump,
 * max_recvmsg_len), and replies to single requests are smaller.
 */
const RECV_BUFFER_SIZE = 64 * 1024;

/**
 * One AF_NETLINK socket in the network namespace of the thread that opened it. All calls block the
 * calling thread; rtnetlink answers during the send itself, so a receive right after a send returns at once.
 */
export class NetlinkSocket {
  private readonly recvBuf = Buffer.alloc(RECV_BUFFER_SIZE);
  private fd: number;

  /**
   * Opens and binds a socket for `protocol` (NETLINK_ROUTE for rtnetlink), with extended acks, capped acks
   * and strict dump checking turned on, and a receive timeout so a lost reply can't hang the process.
   * @throws NetlinkError when a socket call fails.
   */
  constructor(protocol: number, timeoutMs: number) {
    this.fd = socketFn(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) as number;
    if (this.fd < 0) throw new NetlinkError('socket AF_NETLINK', lastErrno());
    try {
      const one = Buffer.alloc(4);
      writeU32(one, 1, 0);
      for (const opt of [NETLINK_EXT_ACK, NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK]) {
        if (setsockoptFn(this.fd, SOL_NETLINK, opt, one, 4) !== 0) throw new NetlinkError(`setsockopt SOL_NETLINK ${opt}`, lastErrno());
      }
      const timeval = Buffer.alloc(16); // struct timeval: two longs (64-bit Linux)
      timeval.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
      timeval.writeBigInt64LE(BigInt((timeoutMs % 1000) * 1000), 8);
      if (setsockoptFn(this.fd, SOL_SOCKET, SO_RCVTIMEO, timeval, 16) !== 0) throw new NetlinkError('setsockopt SO_RCVTIMEO', lastErrno());
      const sockaddr = Buffer.alloc(12); // struct sockaddr_nl: family, pad, pid 0 (kernel picks), groups 0
      writeU16(sockaddr, AF_NETLINK, 0);
      if (bindFn(this.fd, sockaddr, 12) !== 0) throw new NetlinkError('bind AF_NETLINK', lastErrno());
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.fd < 0;
  }

  /**
   * Sends one datagram holding one or more messages to the kernel.
   * @throws NetlinkError when the send fails or the socket is closed.
   */
  send(data: Buffer, op: string): void {
    this.checkOpen(op);
    for (;;) {
      const n = sendtoFn(this.fd, data, data.length, 0, null, 0) as number;
      if (n === data.length) return;
      const errno = n < 0 ? lastErrno() : EMSGSIZE;
      if (errno !== EINTR) throw new NetlinkError(op, errno);
    }
  }

  /**
   * Receives one datagram. The returned Buffer is a view of an internal buffer that the next call overwrites.
   * @throws NetlinkError ETIMEDOUT when nothing arrives within the timeout, EMSGSIZE for a datagram larger
   *   than the buffer, or the errno of a failed recvfrom.
   */
  receive(op: string): Buffer {
    this.checkOpen(op);
    for (;;) {
      const n = recvfromFn(this.fd, this.recvBuf, this.recvBuf.length, MSG_TRUNC, null, null) as number;
      if (n > this.recvBuf.length) throw new NetlinkError(`${op} (reply of ${n} bytes)`, EMSGSIZE);
      if (n >= 0) return this.recvBuf.subarray(0, n);
      const errno = lastErrno();
      if (errno === EAGAIN) throw new NetlinkError(`${op} (no reply)`, ETIMEDOUT);
      if (errno !== EINTR) throw new NetlinkError(op, errno);
    }
  }

  /** Closes the socket; later calls throw. Closing twice is harmless. */
  close(): void {
    if (this.fd >= 0) closeFn(this.fd);
    this.fd = -1;
  }

  private checkOpen(op: string): void {
    if (this.fd < 0) throw new NetlinkError(`${op} (socket closed)`, 9 /* EBADF */);
  }
}
