import GradusTensor
import _GradusShims

/// Shared elementwise kernels. Each is a plain pointer loop over one block (it vectorises), generic
/// over the scalar and pre-specialised for `Float` and `Double`, so type-erased callers still run
/// the concrete loop. `x` and `y` may be the same memory unless a kernel says otherwise.
public enum Kernels {
    /// y = c·x.   x, y: (n)
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func scale<S: OptimizerScalar>(_ x: UnsafePointer<S>, by c: S, into y: UnsafeMutablePointer<S>, count n: Int) {
        var i = 0
        while i < n { y[i] = c * x[i]; i &+= 1 }
    }

    /// θ ← (a·θ + c·u)·b, the final parameter update. θ, u: (n)
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func applyUpdate<S: OptimizerScalar>(_ theta: UnsafeMutablePointer<S>, update u: UnsafePointer<S>,
                                                       scale c: S, preFactor a: S, postFactor b: S, count n: Int) {
        var i = 0
        if a == 1 && b == 1 {
            while i < n { theta[i] += c * u[i]; i &+= 1 }
        } else if b == 1 {
            while i < n { theta[i] = theta[i] * a + c * u[i]; i &+= 1 }
        } else {
            while i < n { theta[i] = (theta[i] * a + c * u[i]) * b; i &+= 1 }
        }
    }

    /// Σ x_i y_i in double precision (the shared `Projection.dot`: partial sums that vectorise).
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func dot<S: OptimizerScalar>(_ x: UnsafePointer<S>, _ y: UnsafePointer<S>, count n: Int) -> Double {
        Projection.dot(x, y, count: n)
    }

    /// Σ x_i² in double precision. Float: 8 elements per iteration widened to two `SIMD4<Double>` accumulators
    /// (four independent chains of two lanes; one accumulator is bound by the latency of its adds). Double: the
    /// shared `Projection.dot`.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func sumOfSquares<S: OptimizerScalar>(_ x: UnsafePointer<S>, count n: Int) -> Double {
        guard S.self == Float.self else { return Projection.dot(x, x, count: n) }
        let f = UnsafeRawPointer(x)
        var acc0 = SIMD4<Double>(), acc1 = SIMD4<Double>()
        var i = 0
        while i &+ 8 <= n {
            let a = SIMD4<Double>((f + i &* 4).loadUnaligned(as: SIMD4<Float>.self))
            let b = SIMD4<Double>((f + (i &+ 4) &* 4).loadUnaligned(as: SIMD4<Float>.self))
            acc0 += a * a
            acc1 += b * b
            i &+= 8
        }
        var tail = 0.0
        while i < n { let v = Double(f.load(fromByteOffset: i &* 4, as: Float.self)); tail += v * v; i &+= 1 }
        return (acc0 + acc1).sum() + tail
    }

    /// max |x_i| (0 for an empty block; NaNs are ignored). Eight running maxima, so the loop is not bound
    /// by the latency of one compare-and-select chain.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func maxMagnitude<S: OptimizerScalar>(_ x: UnsafePointer<S>, count n: Int) -> Double {
        var m0: S = 0, m1: S = 0, m2: S = 0, m3: S = 0, m4: S = 0, m5: S = 0, m6: S = 0, m7: S = 0
        var i = 0
        while i &+ 8 <= n {
            let a0 = x[i].magnitude, a1 = x[i &+ 1].magnitude, a2 = x[i &+ 2].magnitude, a3 = x[i &+ 3].magnitude
            let a4 = x[i &+ 4].magnitude, a5 = x[i &+ 5].magnitude, a6 = x[i &+ 6].magnitude, a7 = x[i &+ 7].magnitude
            m0 = a0 > m0 ? a0 : m0; m1 = a1 > m1 ? a1 : m1; m2 = a2 > m2 ? a2 : m2; m3 = a3 > m3 ? a3 : m3
            m4 = a4 > m4 ? a4 : m4; m5 = a5 > m5 ? a5 : m5; m6 = a6 > m6 ? a6 : m6; m7 = a7 > m7 ? a7 : m7
            i &+= 8
        }
        while i < n { let a = x[i].magnitude; m0 = a > m0 ? a : m0; i &+= 1 }
        m0 = m1 > m0 ? m1 : m0; m2 = m3 > m2 ? m3 : m2; m4 = m5 > m4 ? m5 : m4; m6 = m7 > m6 ? m7 : m6
        m0 = m2 > m0 ? m2 : m0; m4 = m6 > m4 ? m6 : m4
        return Double(m4 > m0 ? m4 : m0)
    }

    /// `(max |x_i|, Σ x_i²)` of one block: Stable-SPAM's AdaClip and AdaGN statistics, which the executor gathers
    /// in the same pass. `Float` with the AVX2 kernel (`AdamStepKernel.float32`): one loop over x,
    /// `gradus__max_abs_sum_squares_f32_avx2` (squares summed in float32 lanes over fixed chunks of 256 elements,
    /// the chunk sums in double: deterministic for a block, within ~1e-7 relative of the double sum). Otherwise
    /// `maxMagnitude` and `sumOfSquares`, as before.   x: (n)
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func spikeStatistics<S: OptimizerScalar>(_ x: UnsafePointer<S>, count n: Int) -> (maxMagnitude: Double, sumOfSquares: Double) {
        if S.self == Float.self && AdamStepKernel.float32 == .avx2 {
            var m: Float = 0, sum = 0.0
            gradus__max_abs_sum_squares_f32_avx2(UnsafeRawPointer(x).assumingMemoryBound(to: Float.self), Int64(n), &m, &sum)
            return (Double(m), sum)
        }
        return (maxMagnitude(x, count: n), sumOfSquares(x, count: n))
    }

    /// x ← x ⊙ w.   x, w: (n), distinct.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func multiply<S: OptimizerScalar>(_ x: UnsafeMutablePointer<S>, by w: UnsafePointer<S>, count n: Int) {
        var i = 0
        while i < n { x[i] *= w[i]; i &+= 1 }
    }

    /// Calls `body(row, start, length)` for each row of a row-major matrix with rows of `rowLength`
    /// elements that intersects the block `[offset, offset + count)`; `start` is block-relative.
    @inlinable
    public static func forEachRowSegment(offset: Int, count: Int, rowLength: Int,
                                         _ body: (_ row: Int, _ start: Int, _ length: Int) -> Void) {
        guard rowLength > 0 else { return }
        var i = 0
        while i < count {
            let global = offset + i
            let row = global / rowLength
            let end = Swift.min(count, (row + 1) * rowLength - offset)
            body(row, i, end - i)
            i = end
        }
    }
}
