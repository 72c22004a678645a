// The kernel table (bindings/core/kernels.ts) against the WebAssembly binaries: every exported
// function is in the table with its arity and result (read from the binary's type section) and
// vice versa; every split rule names only arguments its kernel has and produces shares that are
// complete calls by name; the thread protocol's kernel list derived from the table has no
// duplicates, fits a worker slot, and is what the rules' shares run.
import { readFile } from 'node:fs/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCore } from '../../bindings/index.js';
import { argsOf, type Call, callOf, KERNEL_NAMES, KERNEL_TABLE, type KernelSpec, kernelSpec, type NamedShare, type SplitContext, shareKernels } from '../../bindings/core/kernels.js';
import { byName, splitRange, splitTriangle } from '../../bindings/core/parallel-kernels.js';
import { KERNELS, SLOT } from '../../bindings/core/thread-protocol.js';
import { binaryUrl } from '../../bindings/core/wasm.js';
import { variant } from '../helpers.js';

const table = KERNEL_TABLE as Record<string, KernelSpec>;

/** Function exports of a WebAssembly binary with their parameter and result counts (type, import, function and export sections). */
function wasmSignatures(bytes: Uint8Array): Map<string, { params: number; results: number }> {
  let pos = 8;
  const u32 = () => {
    let result = 0,
      shift = 0,
      b: number;
    do {
      b = bytes[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return result;
  };
  const name = () => {
    const n = u32();
    const s = new TextDecoder().decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const types: { params: number; results: number }[] = [];
  const funcTypes: number[] = [];
  const exports: [string, number][] = [];
  while (pos < bytes.length) {
    const id = bytes[pos++]!;
    const size = u32();
    const end = pos + size;
    if (id === 1) {
      for (let i = u32(); i > 0; i--) {
        assert.is(bytes[pos++], 0x60, 'function type');
        const params = u32();
        pos += params; // numeric and vector value types are one byte each
        const results = u32();
        pos += results;
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let i = u32(); i > 0; i--) {
        name();
        name();
        const kind = bytes[pos++]!;
        if (kind === 0) funcTypes.push(u32());
        else if (kind === 1) {
          pos++;
          const flags = bytes[pos++]!;
          u32();
          if (flags & 1) u32();
        } else if (kind === 2) {
          const flags = bytes[pos++]!;
          u32();
          if (flags & 1) u32();
        } else pos += 2;
      }
    } else if (id === 3) {
      for (let i = u32(); i > 0; i--) funcTypes.push(u32());
    } else if (id === 7) {
      for (let i = u32(); i > 0; i--) {
        const n = name();
        const kind = bytes[pos++]!;
        const index = u32();
        if (kind === 0) exports.push([n, index]);
      }
    }
    pos = end;
  }
  return new Map(exports.map(([n, f]) => [n, types[funcTypes[f]!]!]));
}

for (const threaded of [false, true]) {
  const build = `${variant}${threaded ? ' (shared-memory build)' : ''}`;
  test(`${build}: every exported function is in the table with its arity and result, and every table entry is exported`, async () => {
    const bytes = new Uint8Array(await readFile(binaryUrl(variant, threaded)));
    const module = await WebAssembly.compile(bytes);
    const env: Record<string, unknown> = {
      abort: () => {
        throw new Error('abort');
      },
    };
    if (threaded) env.memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
    const instance = await WebAssembly.instantiate(module, { env } as WebAssembly.Imports);
    const fns = Object.entries(instance.exports).filter(([, v]) => typeof v === 'function') as [string, (...a: unknown[]) => unknown][];
    const signatures = wasmSignatures(bytes);
    assert.is(signatures.size, fns.length, 'the binary parser found every function export');
    for (const [name, fn] of fns) {
      assert.ok(Object.hasOwn(table, name), `${name} is exported by the binary but not in the table`);
      const spec = table[name]!;
      assert.is(fn.length, spec.args.length, `${name}: the binary takes ${fn.length} arguments, the table names ${spec.args.length}`);
      assert.is(signatures.get(name)!.params, spec.args.length, `${name}: parameter count in the type section`);
      assert.is(signatures.get(name)!.results, spec.returns === 'void' ? 0 : 1, `${name}: the table says it returns ${spec.returns}`);
    }
    const exported = new Set(fns.map(([n]) => n));
    for (const name of KERNEL_NAMES) assert.ok(exported.has(name), `${name} is in the table but the binary does not export it`);
    assert.is(KERNEL_NAMES.length, fns.length);
  });
}

test('a core from createCore: every kernel of the table is a function there, the loader wraps the same arity', async () => {
  const c = await createCore({ variant });
  const ex = c.exports as unknown as Record<string, unknown>;
  for (const name of KERNEL_NAMES) {
    const f = ex[name] as { original?: { length: number } } | undefined;
    assert.type(f, 'function', name);
    // @assemblyscript/loader wraps each export and keeps the WebAssembly function as `.original`.
    if (f?.original) assert.is(f.original.length, table[name]!.args.length, name);
  }
  const other = Object.keys(ex).filter((k) => typeof ex[k] === 'function' && !k.startsWith('__') && !Object.hasOwn(table, k));
  assert.equal(other, [], 'exports of the core missing from the table');
});

test('argument names are unique per kernel; callOf / argsOf round-trip and reject incomplete or foreign records', () => {
  for (const name of KERNEL_NAMES) {
    const args = table[name]!.args;
    assert.is(new Set(args).size, args.length, `${name}: duplicate argument name`);
    for (const a of args) assert.ok(/^[A-Za-z_][A-Za-z0-9_]*$/.test(a) && !(a in Object.prototype), `${name}: argument name ${a}`);
    const positional = args.map((_, i) => 3 * i + 1);
    assert.equal(argsOf(name, callOf(name, positional)), positional, name);
  }
  const call = callOf('dgemm', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.is(call.m, 2);
  assert.is(call.ldc, 12);
  const { ldc: _, ...missing } = call;
  assert.throws(() => argsOf('dgemm', missing), /lacks argument ldc/);
  assert.throws(() => argsOf('dgemm', { ...call, ldd: 1 }), /takes no argument ldd/);
  assert.throws(() => kernelSpec('toString'), /not a kernel/);
});

/** Record the argument names a rule reads that its kernel does not have. */
function watched(name: string, call: Call, unknown: string[]): Call {
  const names = new Set(table[name]!.args);
  return new Proxy(call, {
    get(target, key, receiver) {
      if (typeof key === 'string' && !names.has(key)) unknown.push(`${name}.${key}`);
      return Reflect.get(target, key, receiver);
    },
  });
}

test('every split rule names only arguments its kernel has; split kernels return void', () => {
  const split = KERNEL_NAMES.filter((n) => table[n]!.split);
  assert.ok(split.length >= 16, `${split.length} split kernels`);
  for (const name of split) {
    const spec = table[name]!;
    const rule = spec.split!;
    const has = (a: string) => spec.args.includes(a);
    assert.is(spec.returns, 'void', `${name}: a split kernel drops its shares' results`);
    if ('custom' in rule) {
      for (const k of rule.shares ?? []) assert.ok(Object.hasOwn(table, k), `${name}: share kernel ${k} is not in the table`);
      continue;
    }
    assert.ok(has(rule.count), `${name}: count ${rule.count}`);
    for (const [p, by] of Object.entries(rule.advance ?? {})) {
      assert.ok(has(p), `${name}: advance ${p}`);
      if (Array.isArray(by)) for (const f of by) assert.ok(has(f), `${name}: advance ${p} by ${f}`);
      else if (typeof by === 'object') for (const f of (by as { i32: readonly string[] }).i32) assert.ok(has(f), `${name}: advance i32 plane ${p} by ${f}`);
    }
    assert.ok(rule.bytes === undefined || rule.bytes === 4 || rule.bytes === 8, `${name}: bytes`);
    // A float32 twin: same arguments as its float64 kernel, its pointers advanced 4 bytes per element.
    if (name.endsWith('32') && Object.hasOwn(table, name.slice(0, -2))) {
      assert.equal(spec.args, table[name.slice(0, -2)]!.args, `${name}: the arguments of its float64 twin`);
      assert.is(rule.bytes, 4, `${name}: a float32 twin's count rule advances 4 bytes per element`);
    }
    for (const p of rule.optional ?? []) {
      assert.ok(has(p), `${name}: optional ${p}`);
      assert.ok(Object.hasOwn(rule.advance ?? {}, p), `${name}: optional ${p} is not advanced`);
    }
    for (const p of rule.index ?? []) assert.ok(has(p), `${name}: index ${p}`);
    assert.ok(Number.isInteger(rule.quantum ?? 1) && (rule.quantum ?? 1) >= 1, `${name}: quantum`);
    assert.ok((rule.min ?? 1) > 0, `${name}: min`);
  }
});

test('the split rules read calls by name and make shares that are complete calls of their kernels', () => {
  const unknown: string[] = [];
  const made: NamedShare[] = [];
  const ctx: SplitContext = {
    shares: () => 3,
    splitRange,
    splitTriangle,
    call: (kernel, call) => {
      made.push([kernel, call]);
    },
    raw: (kernel, call) => {
      made.push([kernel, call]);
    },
  };
  let exercised = 0;
  for (const name of KERNEL_NAMES) {
    const rule = table[name]!.split;
    if (!rule) continue;
    // A large call (every argument 64, pointers 1 MiB apart) that every rule splits; kc = 1 for the one-item paths.
    for (const one of [false, true]) {
      const call = watched(
        name,
        callOf(
          name,
          table[name]!.args.map((_, i) => (i === 0 && one ? 1 : 64 + (i << 20))),
        ),
        unknown,
      );
      made.length = 0;
      let out: readonly NamedShare[] | 'done' | undefined;
      // The work check reads the call through parallel-kernels' getter view: same value as on the record.
      const positional = argsOf(name, call);
      assert.is(rule.work(byName(name).view(positional)), rule.work(call), `${name}: work on the view`);
      assert.type(rule.work(call), 'number');
      if ('custom' in rule) out = rule.custom(call, ctx);
      else {
        for (const by of Object.values(rule.advance ?? {})) if (typeof by === 'function') assert.type(by(call), 'number');
        out = one && rule.single ? rule.single(call, ctx) : undefined;
      }
      if (out === 'done') assert.ok(made.length > 0, `${name}: 'done' without a call`);
      else if (out) made.push(...out);
      for (const [kernel, c] of made) {
        argsOf(kernel, c); // throws unless c names exactly the kernel's arguments
        exercised++;
      }
      if (out && out !== 'done') {
        const allowed = shareKernels(name);
        for (const [kernel] of out) assert.ok(allowed.includes(kernel), `${name}: a share runs ${kernel}, not declared in its rule's shares`);
      }
    }
  }
  assert.equal(unknown, [], 'arguments read by a rule that its kernel does not have');
  assert.ok(exercised > 20, `${exercised} shares checked`);
});

test('the thread protocol list: derived from the table, no duplicates, every share kernel, fits a worker slot', () => {
  assert.is(new Set(KERNELS).size, KERNELS.length, 'duplicates');
  const expected = new Set<string>();
  for (const name of KERNEL_NAMES) {
    for (const k of shareKernels(name)) expected.add(k);
    if (table[name]!.worker) expected.add(name);
  }
  assert.equal([...KERNELS].sort(), [...expected].sort());
  assert.equal(
    [...KERNELS],
    KERNEL_NAMES.filter((n) => expected.has(n)),
    'table order',
  );
  for (const k of ['dgemm', 'dsyrkLowerRange', 'dzero', 'mlpTangentGrad', 'denseMul']) assert.ok(KERNELS.includes(k as never), k);
  assert.not.ok(KERNELS.includes('dsyrkLower'), 'dsyrkLower runs as dsyrkLowerRange shares');
  for (const k of KERNELS) assert.ok(table[k]!.args.length <= SLOT - 1, `${k} does not fit a slot`);
});

test.run();
