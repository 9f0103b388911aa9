export { defineStoreConformanceTests } from './define.js';
export type { ConformanceOptions, ConformanceScale, DescribeFunction, ItFunction } from './options.js';
