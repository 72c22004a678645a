/**
 * natgrad's WebAssembly exports. One kernel family per file; see each file's
 * header for argument units (pointers are byte addresses, sizes are elements),
 * alignment and tail handling.
 */
export * from './memory';
export * from './blas';
export * from './gram';
export * from './cholesky';
export * from './eig';
export * from './linear';
export * from './likelihood';
export * from './grid';
