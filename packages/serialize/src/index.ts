export { serialize, type SerializeOptions, type SerializeProgress } from './serialize.js';
export { deserialize, type DeserializeOptions, type DeserializeProgress, type DeserializeResult } from './deserialize.js';
export type { ChunkSource } from './spool-source.js';
