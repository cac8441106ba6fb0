import GradusRuntime

/// Unary elementwise operations with a fused kernel each. Parameters are carried as Double and
/// converted once per call.
public enum UnaryOp: Sendable, Equatable {
    case neg, exp, log, sqrt, abs, relu, sigmoid, tanh, erf, square, reciprocal, sin, cos, sign, log1p, expm1
    /// 1 where x > threshold, else 0 (a mask; not differentiable).
    case greater(Double)
    /// a·x + b.
    case affine(Double, Double)
    /// x^p.
    case power(Double)
    /// min(max(x, lo), hi).
    case clamp(Double, Double)
    /// 1 where lo ≤ x ≤ hi else 0.
    case inRange(Double, Double)
}

/// Binary elementwise operations (NumPy broadcasting).
public enum BinaryOp: Sendable, Equatable {
    case add, sub, mul, div, maximum, minimum, pow
    /// 1 where a > b else 0; 1 where a == b else 0; masks.
    case greater, equal
}

/// Elements per parallel task below which kernels run inline on the caller.
public let elementwiseGrain = 1 << 16

public enum Kernels {
    // MARK: unary

    @inline(__always)
    static func unaryLoop<T: TensorScalar>(_ x: UnsafePointer<T>, _ sx: Int, _ y: UnsafeMutablePointer<T>, _ n: Int,
                                           _ f: (T) -> T) {
        if sx == 1 { for i in 0..<n { y[i] = f(x[i]) } } else { for i in 0..<n { y[i] = f(x[i &* sx]) } }
    }

    @inline(__always)
    static func applyUnary<T: TensorScalar>(_ op: UnaryOp, _ x: UnsafePointer<T>, _ sx: Int, _ y: UnsafeMutablePointer<T>, _ n: Int) {
        switch op {
        case .neg: unaryLoop(x, sx, y, n) { -$0 }
        case .exp: unaryLoop(x, sx, y, n) { T._exp($0) }
        case .log: unaryLoop(x, sx, y, n) { T._log($0) }
        case .sqrt: unaryLoop(x, sx, y, n) { T._sqrt($0) }
        case .abs: unaryLoop(x, sx, y, n) { Swift.abs($0) }
        case .relu: unaryLoop(x, sx, y, n) { $0 > 0 ? $0 : 0 }
        case .sigmoid: unaryLoop(x, sx, y, n) { 1 / (1 + T._exp(-$0)) }
        case .tanh: unaryLoop(x, sx, y, n) { T._tanh($0) }
        case .erf: unaryLoop(x, sx, y, n) { T._erf($0) }
        case .square: unaryLoop(x, sx, y, n) { $0 * $0 }
        case .reciprocal: unaryLoop(x, sx, y, n) { 1 / $0 }
        case .sin: unaryLoop(x, sx, y, n) { T(_sinD(Double($0))) }
        case .cos: unaryLoop(x, sx, y, n) { T(_cosD(Double($0))) }
        case .sign: unaryLoop(x, sx, y, n) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
        case .log1p: unaryLoop(x, sx, y, n) { T._log1p($0) }
        case .expm1: unaryLoop(x, sx, y, n) { T._expm1($0) }
        case .greater(let t): let tt = T(t); unaryLoop(x, sx, y, n) { $0 > tt ? 1 : 0 }
        case .affine(let a, let b):
            let aa = T(a), bb = T(b)
            unaryLoop(x, sx, y, n) { $0 * aa + bb }
        case .power(let p):
            let pp = T(p)
            if p == 2 { unaryLoop(x, sx, y, n) { $0 * $0 } }
            else if p == 0.5 { unaryLoop(x, sx, y, n) { T._sqrt($0) } }
            else if p == -1 { unaryLoop(x, sx, y, n) { 1 / $0 } }
            else { unaryLoop(x, sx, y, n) { T._pow($0, pp) } }
        case .clamp(let lo, let hi):
            let l = T(lo), h = T(hi)
            unaryLoop(x, sx, y, n) { Swift.min(Swift.max($0, l), h) }
        case .inRange(let lo, let hi):
            let l = T(lo), h = T(hi)
            unaryLoop(x, sx, y, n) { $0 >= l && $0 <= h ? 1 : 0 }
        }
    }

    /// y = op(x); `y` contiguous with x's shape.
    public static func unary(_ op: UnaryOp, _ x: Tensor, into y: Tensor) {
        switch x.dtype {
        case .float32: unaryTyped(op, x, y, Float.self)
        case .float64: unaryTyped(op, x, y, Double.self)
        }
    }

    static func unaryTyped<T: TensorScalar>(_ op: UnaryOp, _ x: Tensor, _ y: Tensor, _: T.Type) {
        let (shape, strides) = Strided.coalesce(shape: x.shape, strides: [x.strides])
        let xp = UnsafePointer(x.basePointer(as: T.self)), yp = y.basePointer(as: T.self)
        let inner = shape.last!, sx = strides[0].last!
        let rows = x.count / Swift.max(inner, 1)
        guard x.count > 0 else { return }
        if rows == 1 {
            ThreadPool.shared.parallelFor(inner, grain: elementwiseGrain) { r, _ in
                applyUnary(op, xp + r.lowerBound * sx, sx, yp + r.lowerBound, r.count)
            }
        } else {
            ThreadPool.shared.parallelFor(rows, grain: Swift.max(1, elementwiseGrain / inner)) { r, _ in
                Strided.forEachRow(shape: shape, strides: strides, rows: r) { row, offs in
                    applyUnary(op, xp + offs[0], sx, yp + row * inner, inner)
                }
            }
        }
    }

    // MARK: binary

    @inline(__always)
    static func binaryLoop<T: TensorScalar>(_ a: UnsafePointer<T>, _ sa: Int, _ b: UnsafePointer<T>, _ sb: Int,
                                            _ y: UnsafeMutablePointer<T>, _ n: Int, _ f: (T, T) -> T) {
        if sa == 1 && sb == 1 { for i in 0..<n { y[i] = f(a[i], b[i]) } }
        else if sa == 1 && sb == 0 { let bv = b[0]; for i in 0..<n { y[i] = f(a[i], bv) } }
        else if sa == 0 && sb == 1 { let av = a[0]; for i in 0..<n { y[i] = f(av, b[i]) } }
        else { for i in 0..<n { y[i] = f(a[i &* sa], b[i &* sb]) } }
    }

    @inline(__always)
    static func applyBinary<T: TensorScalar>(_ op: BinaryOp, _ a: UnsafePointer<T>, _ sa: Int, _ b: UnsafePointer<T>, _ sb: Int,
                                             _ y: UnsafeMutablePointer<T>, _ n: Int) {
        switch op {
        case .add: binaryLoop(a, sa, b, sb, y, n) { $0 + $1 }
        case .sub: binaryLoop(a, sa, b, sb, y, n) { $0 - $1 }
        case .mul: binaryLoop(a, sa, b, sb, y, n) { $0 * $1 }
        case .div: binaryLoop(a, sa, b, sb, y, n) { $0 / $1 }
        case .maximum: binaryLoop(a, sa, b, sb, y, n) { $0.isNaN || $0 >= $1 ? $0 : $1 }
        case .minimum: binaryLoop(a, sa, b, sb, y, n) { $0.isNaN || $0 <= $1 ? $0 : $1 }
        case .pow: binaryLoop(a, sa, b, sb, y, n) { T._pow($0, $1) }
        case .greater: binaryLoop(a, sa, b, sb, y, n) { $0 > $1 ? 1 : 0 }
        case .equal: binaryLoop(a, sa, b, sb, y, n) { $0 == $1 ? 1 : 0 }
        }
    }

    /// y = op(a, b) with broadcasting; `y` contiguous with the broadcast shape.
    public static func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, into y: Tensor) {
        switch a.dtype {
        case .float32: binaryTyped(op, a, b, y, Float.self)
        case .float64: binaryTyped(op, a, b, y, Double.self)
        }
    }

    static func binaryTyped<T: TensorScalar>(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ y: Tensor, _: T.Type) {
        guard y.count > 0 else { return }
        let sa = Strided.broadcastStrides(shape: a.shape, strides: a.strides, to: y.shape)
        let sb = Strided.broadcastStrides(shape: b.shape, strides: b.strides, to: y.shape)
        let (shape, strides) = Strided.coalesce(shape: y.shape, strides: [sa, sb, y.strides])
        let ap = UnsafePointer(a.basePointer(as: T.self)), bp = UnsafePointer(b.basePointer(as: T.self))
        let yp = y.basePointer(as: T.self)
        let inner = shape.last!, ia = strides[0].last!, ib = strides[1].last!
        let rows = y.count / inner
        if rows == 1 {
            ThreadPool.shared.parallelFor(inner, grain: elementwiseGrain) { r, _ in
                applyBinary(op, ap + r.lowerBound * ia, ia, bp + r.lowerBound * ib, ib, yp + r.lowerBound, r.count)
            }
        } else {
            ThreadPool.shared.parallelFor(rows, grain: Swift.max(1, elementwiseGrain / inner)) { r, _ in
                Strided.forEachRow(shape: shape, strides: strides, rows: r) { _, offs in
                    applyBinary(op, ap + offs[0], ia, bp + offs[1], ib, yp + offs[2], inner)
                }
            }
        }
    }

    // MARK: copy and fill

    /// Copies a (possibly strided) tensor into a contiguous one of the same shape, converting dtype.
    public static func copy(from x: Tensor, to y: Tensor) {
        switch (x.dtype, y.dtype) {
        case (.float32, .float32): copyTyped(x, y, Float.self, Float.self)
        case (.float64, .float64): copyTyped(x, y, Double.self, Double.self)
        case (.float32, .float64): copyTyped(x, y, Float.self, Double.self)
        case (.float64, .float32): copyTyped(x, y, Double.self, Float.self)
        }
    }

    static func copyTyped<S: TensorScalar, D: TensorScalar>(_ x: Tensor, _ y: Tensor, _: S.Type, _: D.Type) {
        guard x.count > 0 else { return }
        let (shape, strides) = Strided.coalesce(shape: x.shape, strides: [x.strides, y.strides])
        let xp = UnsafePointer(x.basePointer(as: S.self)), yp = y.basePointer(as: D.self)
        let inner = shape.last!, sx = strides[0].last!, sy = strides[1].last!
        let rows = x.count / inner
        @inline(__always) func run(_ src: UnsafePointer<S>, _ dst: UnsafeMutablePointer<D>, _ n: Int) {
            if sx == 1 && sy == 1 {
                if S.self == D.self { UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * MemoryLayout<S>.stride) }
                else { for i in 0..<n { dst[i] = D(src[i]) } }
            } else { for i in 0..<n { dst[i &* sy] = D(src[i &* sx]) } }
        }
        if rows == 1 {
            ThreadPool.shared.parallelFor(inner, grain: elementwiseGrain) { r, _ in
                run(xp + r.lowerBound * sx, yp + r.lowerBound * sy, r.count)
            }
        } else {
            ThreadPool.shared.parallelFor(rows, grain: Swift.max(1, elementwiseGrain / inner)) { r, _ in
                Strided.forEachRow(shape: shape, strides: strides, rows: r) { _, offs in
                    run(xp + offs[0], yp + offs[1], inner)
                }
            }
        }
    }

    /// Fills a contiguous tensor with one value.
    public static func fill(_ y: Tensor, _ value: Double) {
        switch y.dtype {
        case .float32:
            let p = y.basePointer(as: Float.self), v = Float(value)
            ThreadPool.shared.parallelFor(y.count, grain: elementwiseGrain) { r, _ in (p + r.lowerBound).initialize(repeating: v, count: r.count) }
        case .float64:
            let p = y.basePointer(as: Double.self)
            ThreadPool.shared.parallelFor(y.count, grain: elementwiseGrain) { r, _ in (p + r.lowerBound).initialize(repeating: value, count: r.count) }
        }
    }
}

import Glibc
@usableFromInline func _sinD(_ x: Double) -> Double { sin(x) }
@usableFromInline func _cosD(_ x: Double) -> Double { cos(x) }
