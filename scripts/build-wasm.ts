/**
 * Compiles the capture engine (src/pcap/engine/engine.ts, AssemblyScript) into src/pcap/engine/engine.wasm with
 * AssemblyScript's compiler (a devDependency, pinned: the runtime loads only the committed .wasm).
 * `npm run build:wasm`; test/unit/pcap/engine.test.ts fails when the committed .wasm differs from this build.
 */
import { writeFileSync } from 'node:fs';
import asc from 'assemblyscript/asc';

export const ENGINE_SOURCE = 'src/pcap/engine/engine.ts';
export const ENGINE_WASM = 'src/pcap/engine/engine.wasm';

/**
 * No runtime and no allocator (the engine uses only the memory layout of constants.ts), no asserts and no abort
 * import, the memory imported (Node creates it, fixed-size), SIMD for the checksums. -O3 for speed.
 */
const ASC_FLAGS = [
  '--runtime',
  'stub',
  '--noAssert',
  '--use',
  'abort=',
  '--importMemory',
  '--initialMemory',
  '0',
  '--enable',
  'simd',
  '--optimizeLevel',
  '3',
  '--shrinkLevel',
  '0',
  '--converge',
];

export async function compileEngine(): Promise<Uint8Array> {
  let binary: Uint8Array | null = null;
  const messages: string[] = [];
  const { error } = await asc.main([ENGINE_SOURCE, '--outFile', 'engine.wasm', ...ASC_FLAGS], {
    writeFile(name, contents) {
      if (name.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
    },
    stderr: { write: (text: string | Uint8Array) => messages.push(String(text)) },
    stdout: { write: () => undefined },
  });
  if (error !== null || binary === null)
    throw new Error(`asc failed: ${error?.message ?? 'no output'}\n${messages.join('')}`);
  return binary;
}

if (import.meta.main) {
  writeFileSync(ENGINE_WASM, await compileEngine());
  console.log(`${ENGINE_SOURCE} → ${ENGINE_WASM}`);
}
