// Test helpers (`@blockvfs/core/testing`): injected faults, added latency, a clock that
// moves only when told, and a seeded random source. Not for production paths.
export { mulberry32, withFaults, type FaultControl, type FaultMode, type FaultOp, type FaultOptions, type FaultyStore } from './layers/faults.js';
export { withLatency, type LatencyOptions } from './layers/latency.js';
export { ManualClock } from './clock.js';
export { DEFAULT_SEGMENT_BLOCKS, setSegmentMinimum } from './atomic/history.js';
