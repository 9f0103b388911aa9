// Minimal declarations for the wa-sqlite files the adapter imports. The package ships
// no types for these paths (FacadeVFS, the JSPI build); the adapter casts each value
// to the narrow local interfaces it defines, so these stay `unknown` on purpose.

declare module '@journeyapps/wa-sqlite/src/FacadeVFS.js' {
  export const FacadeVFS: unknown;
}

declare module '@journeyapps/wa-sqlite/src/sqlite-api.js' {
  export const Factory: unknown;
}

declare module '@journeyapps/wa-sqlite/dist/wa-sqlite-async.mjs' {
  const factory: unknown;
  export default factory;
}

declare module '@journeyapps/wa-sqlite/dist/wa-sqlite-jspi.mjs' {
  const factory: unknown;
  export default factory;
}
