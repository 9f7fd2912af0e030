// pkg/manifest: YAML and JSON documents in, plain values out.
export { MAX_ALIASES, YamlSyntaxError, parseDocument, parseDocuments } from './yaml.js';
