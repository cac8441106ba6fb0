import GradusRuntime

extension Tensor {
    /// A tensor of `shape` filled with `value`.
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) -> Tensor {
        let t = Tensor(uninitializedShape: shape, dtype: dtype)
        Kernels.fill(t, value)
        return t
    }

    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor { full(shape, 0, dtype: dtype) }
    public static func ones(_ shape: [Int], dtype: DType = .float32) -> Tensor { full(shape, 1, dtype: dtype) }

    /// A zero-dimensional tensor.
    public static func scalar(_ value: Double, dtype: DType = .float32) -> Tensor { full([], value, dtype: dtype) }

    /// Zeros with the shape and dtype of `other`.
    public static func zeros(like other: Tensor) -> Tensor { zeros(other.shape, dtype: other.dtype) }

    /// 0, step, 2·step, … below `end` (start included).
    public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1, dtype: DType = .float32) throws(GradusError) -> Tensor {
        guard step != 0, step.isFinite, start.isFinite, end.isFinite else { throw .invalidArgument("arange: step must be non-zero and bounds finite") }
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        guard n <= 1 << 40 else { throw .invalidArgument("arange: too many elements") }
        let values = (0..<n).map { start + Double($0) * step }
        return Tensor(shape: [n], scalars: values, dtype: dtype)
    }

    /// Creates a tensor by copying `scalars` (row-major). The count must match the shape.
    public convenience init(shape: [Int], scalars: [Float]) {
        self.init(uninitializedShape: shape, dtype: .float32)
        precondition(scalars.count == count, "scalar count \(scalars.count) does not match shape \(shape)")
        scalars.withUnsafeBufferPointer { src in basePointer(as: Float.self).update(from: src.baseAddress!, count: src.count) }
    }

    public convenience init(shape: [Int], scalars: [Double]) {
        self.init(uninitializedShape: shape, dtype: .float64)
        precondition(scalars.count == count, "scalar count \(scalars.count) does not match shape \(shape)")
        scalars.withUnsafeBufferPointer { src in basePointer(as: Double.self).update(from: src.baseAddress!, count: src.count) }
    }

    /// Creates a tensor of `dtype` from Double values.
    public convenience init(shape: [Int], scalars: [Double], dtype: DType) {
        self.init(uninitializedShape: shape, dtype: dtype)
        precondition(scalars.count == count, "scalar count \(scalars.count) does not match shape \(shape)")
        switch dtype {
        case .float64: scalars.withUnsafeBufferPointer { basePointer(as: Double.self).update(from: $0.baseAddress!, count: $0.count) }
        case .float32:
            let p = basePointer(as: Float.self)
            for (i, v) in scalars.enumerated() { p[i] = Float(v) }
        }
    }

    /// Checked creation from values, for callers across the C/Python boundary.
    public static func make(shape: [Int], scalars: [Double], dtype: DType) throws(GradusError) -> Tensor {
        let n = try checkedCount(shape)
        guard n == scalars.count else { throw .shapeMismatch("\(scalars.count) values do not fill shape \(shape)") }
        return Tensor(shape: shape, scalars: scalars, dtype: dtype)
    }

    /// Copies `count` elements of `dtype` from raw memory.
    public static func copying(_ source: UnsafeRawPointer, shape: [Int], dtype: DType) throws(GradusError) -> Tensor {
        _ = try checkedCount(shape)
        let t = Tensor(uninitializedShape: shape, dtype: dtype)
        t.storage.raw.copyMemory(from: source, byteCount: t.count * dtype.size)
        return t
    }

    /// Wraps caller memory without copying. `release` runs when the last view of it goes away.
    public static func borrowing(_ pointer: UnsafeMutableRawPointer, shape: [Int], dtype: DType,
                                 release: (@Sendable (UnsafeMutableRawPointer) -> Void)?) throws(GradusError) -> Tensor {
        let n = try checkedCount(shape)
        let storage = Storage(borrowing: pointer, byteCount: n * dtype.size, release: release)
        return Tensor(storage: storage, shape: shape, strides: contiguousStrides(shape), offset: 0, dtype: dtype)
    }

    /// Uniform samples in [low, high) from a counter-based generator: element i depends only on
    /// (seed, i), never on the thread count.
    public static func uniform(_ shape: [Int], low: Double = 0, high: Double = 1, seed: UInt64, dtype: DType = .float32) -> Tensor {
        let t = Tensor(uninitializedShape: shape, dtype: dtype)
        let philox = Philox(seed: seed)
        let n = t.count
        let span = high - low
        switch dtype {
        case .float32:
            let p = t.basePointer(as: Float.self)
            let lo = Float(low), sp = Float(span)
            ThreadPool.shared.parallelFor((n + 3) / 4, grain: 4096) { r, _ in
                for b in r {
                    let w = philox.block(stream: 0, index: UInt64(b))
                    let base = b * 4
                    p[base] = lo + sp * Philox.unitFloat(w.0)
                    if base + 1 < n { p[base + 1] = lo + sp * Philox.unitFloat(w.1) }
                    if base + 2 < n { p[base + 2] = lo + sp * Philox.unitFloat(w.2) }
                    if base + 3 < n { p[base + 3] = lo + sp * Philox.unitFloat(w.3) }
                }
            }
        case .float64:
            let p = t.basePointer(as: Double.self)
            ThreadPool.shared.parallelFor((n + 1) / 2, grain: 4096) { r, _ in
                for b in r {
                    let w = philox.block(stream: 0, index: UInt64(b))
                    p[b * 2] = low + span * Philox.unitDouble(w.0, w.1)
                    if b * 2 + 1 < n { p[b * 2 + 1] = low + span * Philox.unitDouble(w.2, w.3) }
                }
            }
        }
        return t
    }

    /// Normal samples (Box–Muller over Philox; counter-based, thread-count independent).
    public static func normal(_ shape: [Int], mean: Double = 0, std: Double = 1, seed: UInt64, dtype: DType = .float32) -> Tensor {
        let t = Tensor(uninitializedShape: shape, dtype: dtype)
        let philox = Philox(seed: seed)
        let n = t.count
        @inline(__always) func pair(_ b: Int) -> (Double, Double) {
            let w = philox.block(stream: 1, index: UInt64(b))
            let u1 = Swift.max(Philox.unitDouble(w.0, w.1), 1e-300), u2 = Philox.unitDouble(w.2, w.3)
            let rad = (-2 * _logD(u1)).squareRoot()
            let th = 2 * Double.pi * u2
            return (rad * _cosD(th), rad * _sinD(th))
        }
        switch dtype {
        case .float32:
            let p = t.basePointer(as: Float.self)
            ThreadPool.shared.parallelFor((n + 1) / 2, grain: 2048) { r, _ in
                for b in r {
                    let (z0, z1) = pair(b)
                    p[b * 2] = Float(mean + std * z0)
                    if b * 2 + 1 < n { p[b * 2 + 1] = Float(mean + std * z1) }
                }
            }
        case .float64:
            let p = t.basePointer(as: Double.self)
            ThreadPool.shared.parallelFor((n + 1) / 2, grain: 2048) { r, _ in
                for b in r {
                    let (z0, z1) = pair(b)
                    p[b * 2] = mean + std * z0
                    if b * 2 + 1 < n { p[b * 2 + 1] = mean + std * z1 }
                }
            }
        }
        return t
    }

    /// Converts to another dtype (a copy; differentiable).
    public func to(_ dtype: DType) -> Tensor {
        if dtype == self.dtype { return self }
        let out = Tensor(uninitializedShape: shape, dtype: dtype)
        Kernels.copy(from: self, to: out)
        let from = self.dtype
        return record(out, "cast", [self]) { g in [g.to(from)] }
    }
}

import Glibc
@usableFromInline func _logD(_ x: Double) -> Double { log(x) }
