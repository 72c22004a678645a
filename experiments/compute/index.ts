/**
 * The pure computations of the paper's experiments (no Node API: importable by the web page).
 * Each needs `await init()` from natgrad first.
 *
 * @module
 */
export * from './fig1.js';
export * from './fig2.js';
export * from './fig3.js';
export * from './grid.js';
export * from './startingPoint.js';
