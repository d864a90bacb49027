/**
 * Compiles the project's WebAssembly text sources (the .wat files under src/) into the .wasm files next to them,
 * with wabt (the WebAssembly Binary Toolkit's parser, a devDependency: the runtime loads only the small .wasm).
 * `npm run build:wasm`; test/unit/pcap/ones-sum.test.ts fails when a committed .wasm differs from its source's build.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

/** The proposal the sources use: fixed-width SIMD (in every engine Node 24 runs on). */
export const WAT_FEATURES = { simd: true } as const;
export const WAT_SOURCES = ['src/pcap/ones-sum.wat'] as const;

export async function compileWat(path: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const module = wabt.parseWat(path, readFileSync(path, 'utf8'), WAT_FEATURES);
  try {
    module.validate(); // wabt enables SIMD by default; its typings take no features here
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (import.meta.main) {
  for (const source of WAT_SOURCES) {
    const target = source.replace(/\.wat$/, '.wasm');
    writeFileSync(target, await compileWat(source));
    console.log(`${source} → ${target}`);
  }
}
