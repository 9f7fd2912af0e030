// The subset of Kubernetes' v1 Service and discovery.k8s.io/v1 EndpointSlice we read, as plain JSON
// shapes (camelCase, all optional as on the wire). Objects from @kubernetes/client-node
// (V1Service, V1EndpointSlice) and parsed YAML manifests both fit.

/** metadata of any object. */
export interface K8sObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** One entry of Service.spec.ports. */
export interface K8sServicePort {
  /** Required (DNS label) when the service has more than one port. */
  readonly name?: string;
  /** TCP (default), UDP or SCTP. */
  readonly protocol?: string;
  readonly port?: number;
  /** Number, or the name of a container port (IANA_SVC_NAME); default = port. */
  readonly targetPort?: number | string;
  readonly nodePort?: number;
  readonly appProtocol?: string;
}

/** v1 Service. */
export interface K8sService {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: K8sObjectMeta;
  readonly spec?: {
    /** ClusterIP (default), NodePort, LoadBalancer, ExternalName. */
    readonly type?: string;
    /** The (primary) virtual IP; "None" = headless. */
    readonly clusterIP?: string;
    /** All virtual IPs, primary first (dual-stack). */
    readonly clusterIPs?: readonly string[];
    readonly ports?: readonly K8sServicePort[];
    readonly selector?: Readonly<Record<string, string>>;
    /** None (default) or ClientIP. */
    readonly sessionAffinity?: string;
    readonly sessionAffinityConfig?: { readonly clientIP?: { readonly timeoutSeconds?: number } };
    /** Cluster (default) or Local. */
    readonly internalTrafficPolicy?: string;
  };
}

/** EndpointSlice endpoints[].conditions; each nil has a documented default (see endpointState). */
export interface K8sEndpointConditions {
  readonly ready?: boolean | null;
  readonly serving?: boolean | null;
  readonly terminating?: boolean | null;
}

/** One entry of EndpointSlice.endpoints. */
export interface K8sEndpoint {
  /** 1..100 addresses; only the first has defined semantics (kube-proxy reads only it). */
  readonly addresses?: readonly string[];
  readonly conditions?: K8sEndpointConditions;
  readonly nodeName?: string;
  readonly zone?: string;
  readonly hostname?: string;
}

/** One entry of EndpointSlice.ports. */
export interface K8sEndpointPort {
  /** Matches a Service port name; '' or absent for an unnamed port. */
  readonly name?: string;
  /** TCP (default), UDP or SCTP. */
  readonly protocol?: string;
  /** The target port; nil = not set (such a port is unusable). */
  readonly port?: number | null;
  readonly appProtocol?: string;
}

/** discovery.k8s.io/v1 EndpointSlice. */
export interface K8sEndpointSlice {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: K8sObjectMeta;
  /** IPv4, IPv6 or FQDN (deprecated); only IPv4 is supported. */
  readonly addressType?: string;
  readonly endpoints?: readonly K8sEndpoint[] | null;
  readonly ports?: readonly K8sEndpointPort[] | null;
}
