// CNI errors: printed as JSON on stdout with a non-zero exit, with the spec's codes.

/** Well-known error codes of the CNI spec (1-99), and Cilia's own (100+). */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IOFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  /** The agent refused the endpoint (e.g. bad labels or ports). */
  EndpointRejected: 100,
  /** The agent failed while creating or checking the endpoint. */
  AgentFailure: 101,
} as const;

/** An error the plugin reports to the runtime. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }

  /** The JSON object the spec asks for. */
  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.msg, ...(this.details ? { details: this.details } : {}) };
  }
}
