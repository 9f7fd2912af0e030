// pkg/manifest: YAML and JSON documents in, plain values out.
export { MAX_ALIASES, YamlSyntaxError, parseDocument, parseDocuments, parseText } from './yaml.js';
