// Plain reference loops beside the fast kernels (llm.c style): one element at a time, a row-major multi-index
// turned into each operand's offset through its strides, no coalescing, no SIMD, no thread pool. They exist
// for tests ("fast kernel = reference kernel on random odd shapes") and as the readable definition of what
// each fast kernel computes; never call them on a hot path.
//
// The per-element formula is the fast kernel's own (`applyUnary`/`applyBinary` on one element), so elementwise
// results must agree bitwise; what they check is traversal: strides, offsets, broadcasting, coalescing and
// slicing across workers. Formulas themselves are tested against libm in Double.
import GradusRuntime

extension Kernels {
    /// Element offsets of flat row-major position `flat` of `shape` in each operand (`strides[k]` aligned to
    /// `shape`; stride 0 on broadcast axes).
    @usableFromInline
    static func referenceOffsets(_ flat: Int, _ shape: [Int], _ strides: [[Int]]) -> [Int] {
        var offs = [Int](repeating: 0, count: strides.count)
        var rem = flat
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            let i = rem % shape[d]
            rem /= shape[d]
            for k in strides.indices { offs[k] += i * strides[k][d] }
        }
        return offs
    }

    /// Strides reading a tensor of `shape`/`strides` as broadcast to `target` (right-aligned; 0 where the
    /// operand has size 1 or no axis).
    static func referenceBroadcastStrides(_ shape: [Int], _ strides: [Int], to target: [Int]) -> [Int] {
        var out = [Int](repeating: 0, count: target.count)
        let lead = target.count - shape.count
        for d in 0..<shape.count where shape[d] != 1 { out[lead + d] = strides[d] }
        return out
    }

    /// Reference of `unary`: y[i] = op(x[idx(i)]). x: any strides; y: contiguous, x's shape.
    public static func referenceUnary(_ op: UnaryOp, _ x: Tensor, into y: Tensor) {
        func run<T: TensorScalar>(_: T.Type) {
            let xp = UnsafePointer(x.basePointer(as: T.self)), yp = y.basePointer(as: T.self)
            for i in 0..<x.count {
                let off = referenceOffsets(i, x.shape, [x.strides])[0]
                applyUnary(op, xp + off, 1, yp + i, 1)
            }
        }
        if x.dtype == .float32 { run(Float.self) } else { run(Double.self) }
    }

    /// Reference of `binary`: y[i] = op(a[idx_a(i)], b[idx_b(i)]) with NumPy broadcasting. y: contiguous,
    /// the broadcast shape.
    public static func referenceBinary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, into y: Tensor) {
        let sa = referenceBroadcastStrides(a.shape, a.strides, to: y.shape)
        let sb = referenceBroadcastStrides(b.shape, b.strides, to: y.shape)
        func run<T: TensorScalar>(_: T.Type) {
            let ap = UnsafePointer(a.basePointer(as: T.self)), bp = UnsafePointer(b.basePointer(as: T.self))
            let yp = y.basePointer(as: T.self)
            for i in 0..<y.count {
                let offs = referenceOffsets(i, y.shape, [sa, sb])
                applyBinary(op, ap + offs[0], 1, bp + offs[1], 1, yp + i, 1)
            }
        }
        if a.dtype == .float32 { run(Float.self) } else { run(Double.self) }
    }

    /// Reference of `copy`: y[idx(i)] = D(x[idx(i)]) for any strides of both, converting dtype.
    public static func referenceCopy(from x: Tensor, to y: Tensor) {
        func run<S: TensorScalar, D: TensorScalar>(_: S.Type, _: D.Type) {
            let xp = x.basePointer(as: S.self), yp = y.basePointer(as: D.self)
            for i in 0..<x.count {
                let offs = referenceOffsets(i, x.shape, [x.strides, y.strides])
                yp[offs[1]] = D(xp[offs[0]])
            }
        }
        switch (x.dtype, y.dtype) {
        case (.float32, .float32): run(Float.self, Float.self)
        case (.float64, .float64): run(Double.self, Double.self)
        case (.float32, .float64): run(Float.self, Double.self)
        case (.float64, .float32): run(Double.self, Float.self)
        }
    }

    /// Reference of `reduce`: out[o, i] = reduce_k x[o, k, i] over a contiguous (outer, r, inner) `x`, summing
    /// left to right in the element type (so it differs from the blocked SIMD sum by rounding only). max/min
    /// keep the first extreme and the first NaN; `indices` gets its position. An empty r gives 0, −∞, +∞.
    public static func referenceReduce(_ op: ReduceOp, _ x: Tensor, outer: Int, r: Int, inner: Int, into out: Tensor,
                                       indices: UnsafeMutablePointer<Int>? = nil) {
        func run<T: TensorScalar>(_: T.Type) {
            let xp = x.basePointer(as: T.self), yp = out.basePointer(as: T.self)
            for o in 0..<outer {
                for i in 0..<inner {
                    var acc: T = op == .sum ? 0 : (op == .max ? -T.infinity : T.infinity)
                    var at = 0
                    for k in 0..<r {
                        let v = xp[(o * r + k) * inner + i]
                        switch op {
                        case .sum: acc += v
                        case .max, .min:
                            if acc.isNaN { continue }
                            if k == 0 || v.isNaN || (op == .max ? v > acc : v < acc) { acc = v; at = k }
                        }
                    }
                    yp[o * inner + i] = acc
                    indices?[o * inner + i] = at
                }
            }
        }
        if x.dtype == .float32 { run(Float.self) } else { run(Double.self) }
    }
}
