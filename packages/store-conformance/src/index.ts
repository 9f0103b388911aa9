export { defineStoreConformanceTests } from './define.js';
export type { ConformanceOptions, ConformanceScale, DescribeFunction, ItFunction } from './options.js';
export { defineRequestTimeoutTests } from './request-timeout.js';
export type { PartialAnswerLike, RequestTimeoutSuiteOptions, StalledRequestLike, StallingServerLike, TimedStoreOptions } from './request-timeout.js';
