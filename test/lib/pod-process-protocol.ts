// What a PodProcess (pod-process.ts) and the program it runs in the pod's netns (pod-process-child.ts)
// share: the result types of client actions, and the JSON-lines protocol between the two.
//
// The servers' replies are the same for every port, so that a client can always tell which pod answered:
//   TCP: on accept the server writes "<name>\n", then answers every line L with "<name> L\n";
//   UDP: the server answers every datagram D with "<name> D".

/** How a client action ended: a reply came back, nothing came back in time, the peer refused, or another error. */
export type ProbeOutcome = 'ok' | 'timeout' | 'refused' | 'error';

/** Where a client action goes. */
export interface ProbeTarget {
  readonly proto: 'tcp' | 'udp';
  readonly host: string;
  readonly port: number;
}

/** The result of one client action; `reply`, `server` and (UDP) `from` are set exactly when `outcome` is ok. */
export interface ProbeResult {
  readonly outcome: ProbeOutcome;
  /** The reply as the server sent it: its first line (TCP) or datagram (UDP), without the newline. */
  readonly reply?: string;
  /** The name of the pod that answered: the first word of `reply`. */
  readonly server?: string;
  /**
   * UDP: the address:port the reply came from. The client socket is connected to the target, so the
   * kernel accepts replies only from there: one from elsewhere (say a backend's own address where a
   * service's reverse NAT is missing) shows as a timeout, never as another `from`.
   */
  readonly from?: string;
  /** Why it failed (the error's message, or what was missing); unset when ok. */
  readonly detail?: string;
  /** Time from the start of the action to its end, in ms. */
  readonly ms: number;
}

/** What the program in the netns serves. */
export interface ServeSpec {
  /** The pod's name, the first word of every reply its servers send: non-empty, without white space. */
  readonly name: string;
  /** TCP ports to serve on 0.0.0.0 (default none). */
  readonly tcp?: readonly number[];
  /** UDP ports to serve on 0.0.0.0 (default none). */
  readonly udp?: readonly number[];
}

/** A request to the program, one JSON line on its stdin; `conn` names a TCP connection kept by `open`. */
export type Request =
  | { id: number; op: 'probe'; target: ProbeTarget; timeoutMs: number }
  | { id: number; op: 'open'; target: ProbeTarget; timeoutMs: number }
  | { id: number; op: 'exchange'; conn: number; text: string; timeoutMs: number }
  | { id: number; op: 'close'; conn: number }
  | { id: number; op: 'watch'; target: ProbeTarget; want: 'ok' | 'blocked'; attemptTimeoutMs: number; deadlineMs: number };

/** The answer to request `id`, one JSON line on the program's stdout (after the line `READY_LINE`). */
export type Response = { id: number } & ProbeResult & {
  /** open: the id of the kept connection. */
  conn?: number;
  /** watch: process.hrtime.bigint() (as a decimal string) at the start of the attempt that showed the verdict. */
  flippedAtNs?: string;
  /** watch: how many attempts it made. */
  attempts?: number;
};

/** The program's first stdout line, written once every port listens. */
export const READY_LINE = 'ready';

/** The name of the pod that answered `reply` (its first word). */
export function serverOf(reply: string): string {
  return reply.split(' ', 1)[0];
}
