// Typed errors for load-balancer input a user can get wrong: they name the field at fault.

/**
 * A load-balancer object (service, frontend, backend, Kubernetes object, CLI argument) is invalid.
 * `field` is the path of the offending field in the caller's terms (`backends[2].port`,
 * `spec.ports[1].targetPort`, `--frontend`); `reason` says what is wrong with it.
 * `message` is `"<field>: <reason>"` so that logs and CLI output are self-contained.
 */
export class LbValidationError extends Error {
  override readonly name: string = 'LbValidationError';

  /**
   * @param field path of the offending field
   * @param reason what is wrong, without the field name
   */
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/**
 * The input is well-formed but asks for something Cilia does not implement (a NodePort service,
 * an IPv6-only service, an FQDN EndpointSlice). Callers that watch Kubernetes usually skip such
 * objects quietly instead of reporting them as broken.
 */
export class LbUnsupportedError extends LbValidationError {
  override readonly name: string = 'LbUnsupportedError';
}

/**
 * `err` with `prefix` put in front of its field, as the same error class (other errors come back
 * unchanged). For checks of one list element that name fields relative to it (`.port`, or '' for the
 * element itself): the caller builds the element's path (`spec.ports[3]`) only once something failed,
 * not for every element of a 10,000-object manifest.
 */
export function withFieldPrefix(err: unknown, prefix: string): unknown {
  if (!(err instanceof LbValidationError)) return err;
  const Class = err.constructor as new (field: string, reason: string) => LbValidationError;
  return new Class(prefix + err.field, err.reason);
}
