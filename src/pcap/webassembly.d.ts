/**
 * The part of the WebAssembly JS API that capture-engine.ts uses. Node has the global at run time, but neither
 * @types/node nor TypeScript's es2024 lib declares it (only lib.dom does, which would declare a browser too).
 */
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}
