// The browser protocol module of notalone/v1: pure functions on bytes, no I/O.
export * from './errors.js';
export * as bytes from './bytes.js';
export * as identifiers from './identifiers.js';
export * as oprf from './oprf.js';
export * as slots from './slots.js';
export * as accounts from './accounts.js';
export * as records from './records.js';
export * as receipts from './receipts.js';
export * as merkle from './merkle.js';
export * as canonicalJson from './canonical-json.js';
export * as primitives from './primitives.js';
