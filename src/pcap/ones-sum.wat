;; The RFC 1071 one's-complement sum of a byte range, 32 bytes per step with WebAssembly SIMD.
;; Built into ones-sum.wasm by `npm run build:wasm` (scripts/build-wasm.ts); a unit test checks the two agree.
;;
;; Words are read little-endian: the sum is independent of byte order (RFC 1071 §2(B)), so the caller swaps the
;; folded result once instead of every word. The memory is imported: the capture file's chunks are read into it and
;; summed where they lie (ones-sum.ts).
(module
  (import "env" "memory" (memory 1))
  ;; Sum of the little-endian 16-bit words of memory[from, to), a last odd byte as the low byte, folded to 16 bits.
  ;; Each i32 lane gains at most 2 × 65535 per step: exact for ranges up to 512 KiB (packet records are ≤ 256 KiB).
  (func (export "sum16") (param $from i32) (param $to i32) (result i32)
    (local $i i32) (local $a v128) (local $b v128) (local $s i64)
    (local.set $i (local.get $from))
    (block $done32
      (loop $step32
        (br_if $done32 (i32.gt_u (i32.add (local.get $i) (i32.const 32)) (local.get $to)))
        (local.set $a (i32x4.add (local.get $a) (i32x4.extadd_pairwise_i16x8_u (v128.load (local.get $i)))))
        (local.set $b (i32x4.add (local.get $b) (i32x4.extadd_pairwise_i16x8_u (v128.load offset=16 (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $step32)))
    (if (i32.le_u (i32.add (local.get $i) (i32.const 16)) (local.get $to))
      (then
        (local.set $a (i32x4.add (local.get $a) (i32x4.extadd_pairwise_i16x8_u (v128.load (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))))
    (local.set $a (i32x4.add (local.get $a) (local.get $b)))
    ;; Four lanes below 2^31 each: their total needs 64 bits.
    (local.set $s
      (i64.add
        (i64.add (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $a))) (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $a))))
        (i64.add (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $a))) (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $a))))))
    (block $done2
      (loop $step2
        (br_if $done2 (i32.gt_u (i32.add (local.get $i) (i32.const 2)) (local.get $to)))
        (local.set $s (i64.add (local.get $s) (i64.load16_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $step2)))
    (if (i32.lt_u (local.get $i) (local.get $to))
      (then (local.set $s (i64.add (local.get $s) (i64.load8_u (local.get $i))))))
    ;; Fold 64 → 32 → 16 bits with end-around carry (each step can carry once more).
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffffffff)) (i64.shr_u (local.get $s) (i64.const 32))))
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff)) (i64.shr_u (local.get $s) (i64.const 16))))
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff)) (i64.shr_u (local.get $s) (i64.const 16))))
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff)) (i64.shr_u (local.get $s) (i64.const 16))))
    (i32.wrap_i64 (local.get $s)))
)
