/**
 * natgrad's WebAssembly exports. One kernel family per file; see each file's
 * header for argument units (pointers are byte addresses, sizes are elements),
 * alignment and tail handling.
 */
export * from './memory';
export * from './linalg/blas';
export * from './linalg/gram';
export * from './linalg/gemm';
export * from './linalg/sgemm';
export * from './linalg/cholesky';
export * from './linalg/eig';
export * from './models/linear';
export * from './nn/activation';
export * from './nn/dense';
export * from './nn/conv';
export * from './nn/pool';
export * from './nn/norm';
export * from './likelihoods/likelihood';
export * from './grid/grid';
