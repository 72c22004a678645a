/**
 * Memory management exported to the TypeScript layer.
 *
 * Blocks come from AssemblyScript's TLSF allocator (`heap.alloc`), whose
 * payloads are 16-byte aligned. Allocation may grow linear memory, which
 * detaches every `ArrayBuffer` view the host holds: the host must re-derive
 * its views after any call to `alloc`.
 */

/** Allocate `bytes` bytes (16-byte aligned); returns the byte address. Never called in a hot loop. */
export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
}

/** Return a block obtained from `alloc` to the allocator. */
export function free(ptr: usize): void {
  heap.free(ptr);
}

/** Current size of linear memory in bytes. */
export function memoryBytes(): usize {
  return <usize>memory.size() << 16;
}
