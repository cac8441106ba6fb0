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

    /// Σ x_i y_i in double precision.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func dot<S: OptimizerScalar>(_ x: UnsafePointer<S>, _ y: UnsafePointer<S>, count n: Int) -> Double {
        var s = 0.0
        var i = 0
        while i < n { s += Double(x[i]) * Double(y[i]); i &+= 1 }
        return s
    }

    /// Σ x_i² in double precision.
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func sumOfSquares<S: OptimizerScalar>(_ x: UnsafePointer<S>, count n: Int) -> Double {
        var s = 0.0
        var i = 0
        while i < n { let v = Double(x[i]); s += v * v; i &+= 1 }
        return s
    }

    /// max |x_i| (0 for an empty block).
    @_specialize(where S == Float) @_specialize(where S == Double)
    public static func maxMagnitude<S: OptimizerScalar>(_ x: UnsafePointer<S>, count n: Int) -> Double {
        var m: S = 0
        var i = 0
        while i < n { let v = x[i].magnitude; if v > m { m = v }; i &+= 1 }
        return Double(m)
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
