/**
 * Seeded benchmark inputs shared by the curvature and network benchmarks (not the test helpers,
 * which initialize a core at import time).
 */

/** Deterministic standard normals (xorshift + Box–Muller), so the inputs are seeded. */
export function normals(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}
