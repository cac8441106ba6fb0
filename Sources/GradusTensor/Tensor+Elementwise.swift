import GradusRuntime

/// Elementwise operations and their vector–Jacobian products, side by side. Each backward is written
/// with differentiable tensor operations, so second derivatives come for free.
extension Tensor {
    // MARK: primitives

    /// Applies a unary kernel without recording.
    public func applying(_ op: UnaryOp) -> Tensor {
        let out = Tensor(uninitializedShape: shape, dtype: dtype)
        Kernels.unary(op, self, into: out)
        return out
    }

    func unaryOp(_ op: UnaryOp, _ name: String, _ vjp: @escaping (Tensor, Tensor, Tensor) throws(GradusError) -> Tensor) -> Tensor {
        let out = applying(op)
        return record(out, name, [self]) { [unowned(unsafe) out] g throws(GradusError) in [try vjp(g, self, out)] }
    }

    /// Binary kernel with broadcasting, dtype and shape checks, without recording.
    public static func applying(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws(GradusError) -> Tensor {
        guard a.dtype == b.dtype else { throw .dtypeMismatch("operands are \(a.dtype) and \(b.dtype)") }
        guard let shape = Strided.broadcastShape(a.shape, b.shape) else {
            throw .shapeMismatch("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let out = Tensor(uninitializedShape: shape, dtype: a.dtype)
        Kernels.binary(op, a, b, into: out)
        return out
    }

    static func binaryOp(_ op: BinaryOp, _ name: String, _ a: Tensor, _ b: Tensor,
                         _ vjp: @escaping (Tensor, Tensor, Tensor) throws(GradusError) -> (Tensor?, Tensor?)) throws(GradusError) -> Tensor {
        let out = try applying(op, a, b)
        return record(out, name, [a, b]) { g throws(GradusError) in
            let (ga, gb) = try vjp(g, a, b)
            return [try ga.map { t throws(GradusError) in try t.summed(toShape: a.shape) },
                    try gb.map { t throws(GradusError) in try t.summed(toShape: b.shape) }]
        }
    }

    // MARK: binary

    public static func + (a: Tensor, b: Tensor) throws(GradusError) -> Tensor {
        try binaryOp(.add, "add", a, b) { g, _, _ in (g, g) }
    }
    public static func - (a: Tensor, b: Tensor) throws(GradusError) -> Tensor {
        try binaryOp(.sub, "sub", a, b) { g, _, _ in (g, -g) }
    }
    public static func * (a: Tensor, b: Tensor) throws(GradusError) -> Tensor {
        try binaryOp(.mul, "mul", a, b) { g, a, b throws(GradusError) in
            (a.requiresGrad ? try g * b : nil, b.requiresGrad ? try g * a : nil)
        }
    }
    public static func / (a: Tensor, b: Tensor) throws(GradusError) -> Tensor {
        try binaryOp(.div, "div", a, b) { g, a, b throws(GradusError) in
            let ga = try g / b
            return (ga, b.requiresGrad ? try -(ga * a / b) : nil)
        }
    }
    /// Elementwise maximum (gradient to the larger operand; ties to the first).
    public static func maximum(_ a: Tensor, _ b: Tensor) throws(GradusError) -> Tensor {
        try binaryOp(.maximum, "maximum", a, b) { g, a, b throws(GradusError) in
            let m = try applying(.greater, b, a)   // 1 where b wins
            return (try g * m.affine(-1, 1), try g * m)
        }
    }
    public static func minimum(_ a: Tensor, _ b: Tensor) throws(GradusError) -> Tensor {
        try binaryOp(.minimum, "minimum", a, b) { g, a, b throws(GradusError) in
            let m = try applying(.greater, a, b)   // 1 where b wins
            return (try g * m.affine(-1, 1), try g * m)
        }
    }
    /// a^b elementwise.
    public static func pow(_ a: Tensor, _ b: Tensor) throws(GradusError) -> Tensor {
        try binaryOp(.pow, "pow", a, b) { g, a, b throws(GradusError) in
            let y = try pow(a, b)
            return (try g * b * pow(a, b - Tensor.scalar(1, dtype: b.dtype)), try g * y * a.log())
        }
    }

    // Scalars on either side.
    public static func + (a: Tensor, b: Double) -> Tensor { a.affine(1, b) }
    public static func + (a: Double, b: Tensor) -> Tensor { b.affine(1, a) }
    public static func - (a: Tensor, b: Double) -> Tensor { a.affine(1, -b) }
    public static func - (a: Double, b: Tensor) -> Tensor { b.affine(-1, a) }
    public static func * (a: Tensor, b: Double) -> Tensor { a.affine(b, 0) }
    public static func * (a: Double, b: Tensor) -> Tensor { b.affine(a, 0) }
    public static func / (a: Tensor, b: Double) -> Tensor { a.affine(1 / b, 0) }
    public static func / (a: Double, b: Tensor) -> Tensor { a * b.reciprocal() }
    public static prefix func - (a: Tensor) -> Tensor { a.affine(-1, 0) }

    // MARK: unary

    /// a·x + b in one pass.
    public func affine(_ a: Double, _ b: Double) -> Tensor {
        unaryOp(.affine(a, b), "affine") { g, _, _ in g.affine(a, 0) }
    }
    public func exp() -> Tensor { unaryOp(.exp, "exp") { g, _, y throws(GradusError) in try g * y } }
    public func log() -> Tensor { unaryOp(.log, "log") { g, x, _ throws(GradusError) in try g / x } }
    public func sqrt() -> Tensor { unaryOp(.sqrt, "sqrt") { g, _, y throws(GradusError) in try g / y * 0.5 } }
    public func abs() -> Tensor { unaryOp(.abs, "abs") { g, x, _ throws(GradusError) in try g * x.applying(.sign) } }
    public func sign() -> Tensor { applying(.sign) }
    public func square() -> Tensor { unaryOp(.square, "square") { g, x, _ throws(GradusError) in try g * x * 2 } }
    public func reciprocal() -> Tensor {
        unaryOp(.reciprocal, "reciprocal") { g, _, y throws(GradusError) in try -(g * y * y) }
    }
    public func relu() -> Tensor {
        unaryOp(.relu, "relu") { g, x, _ throws(GradusError) in try g * x.applying(.greater(0)) }
    }
    public func sigmoid() -> Tensor {
        unaryOp(.sigmoid, "sigmoid") { g, _, y throws(GradusError) in try g * y * (1 - y) }
    }
    public func tanh() -> Tensor {
        unaryOp(.tanh, "tanh") { g, _, y throws(GradusError) in try g * (1 - y.square()) }
    }
    /// The error function; d/dx = 2/√π·exp(−x²).
    public func erf() -> Tensor {
        unaryOp(.erf, "erf") { g, x, _ throws(GradusError) in try g * (x.square() * -1).exp() * 1.1283791670955126 }
    }
    public func sin() -> Tensor { unaryOp(.sin, "sin") { g, x, _ throws(GradusError) in try g * x.cos() } }
    public func cos() -> Tensor { unaryOp(.cos, "cos") { g, x, _ throws(GradusError) in try -(g * x.sin()) } }
    public func log1p() -> Tensor { unaryOp(.log1p, "log1p") { g, x, _ throws(GradusError) in try g / (x + 1) } }
    /// x^p for a scalar exponent.
    public func pow(_ p: Double) -> Tensor {
        if p == 1 { return self }
        // Fix (tensortest): for p = 0 the vjp g·x⁻¹·0 was NaN at x = 0; the derivative of x⁰ is 0 everywhere.
        if p == 0 { return unaryOp(.power(0), "pow") { g, _, _ in g * 0 } }
        return unaryOp(.power(p), "pow") { g, x, _ throws(GradusError) in try g * x.pow(p - 1) * p }
    }
    /// Clamps into [lo, hi]; the gradient passes where lo ≤ x ≤ hi.
    public func clamped(min lo: Double = -.infinity, max hi: Double = .infinity) -> Tensor {
        unaryOp(.clamp(lo, hi), "clamp") { g, x, _ throws(GradusError) in try g * x.applying(.inRange(lo, hi)) }
    }
    /// GELU with the exact erf form (PyTorch's default).
    public func gelu() throws(GradusError) -> Tensor {
        try self * ((self * 0.7071067811865476).erf() + 1) * 0.5
    }
    /// SiLU / swish: x·σ(x).
    public func silu() throws(GradusError) -> Tensor { try self * sigmoid() }
    /// Softplus log(1 + eˣ), stable for large |x|.
    public func softplus() throws(GradusError) -> Tensor {
        try relu() + (abs() * -1).exp().log1p()
    }

    /// Selects `a` where `condition` is non-zero, else `b` (broadcasting). `condition` is not differentiated.
    ///
    /// Fix (tensortest): this used to blend `c·a + (1−c)·b`, so an inf or NaN in the branch *not* selected
    /// (the classic `where(x > 0, log(x), 0)`) turned the result into NaN. It now selects element by element;
    /// the gradients are `where(c, g, 0)` for `a` and `where(c, 0, g)` for `b` (differentiable again).
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws(GradusError) -> Tensor {
        guard a.dtype == b.dtype else { throw .dtypeMismatch("where: operands are \(a.dtype) and \(b.dtype)") }
        guard let ab = Strided.broadcastShape(a.shape, b.shape), let shape = Strided.broadcastShape(condition.shape, ab) else {
            throw .shapeMismatch("where: shapes \(condition.shape), \(a.shape) and \(b.shape) do not broadcast")
        }
        // Dense broadcast copies of the three operands; c is 1 where selected (NaN counts as not selected).
        let (c, av, bv) = try GradMode.withoutGrad { () throws(GradusError) in
            (try condition.to(a.dtype).applying(.sign).applying(.abs).expanded(to: shape).contiguous(),
             try a.expanded(to: shape).contiguous(), try b.expanded(to: shape).contiguous())
        }
        let out = Tensor(uninitializedShape: shape, dtype: a.dtype)
        func run<T: TensorScalar>(_: T.Type) {
            let cp = c.basePointer(as: T.self), ap = av.basePointer(as: T.self), bp = bv.basePointer(as: T.self)
            let op = out.basePointer(as: T.self)
            // out: (shape), all operands dense with the same shape.
            for i in 0..<out.count { op[i] = cp[i] != 0 ? ap[i] : bp[i] }
        }
        if a.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return record(out, "where", [a, b]) { g throws(GradusError) in
            let zero = Tensor.zeros([], dtype: g.dtype)
            return [a.requiresGrad ? try Tensor.where(c, g, zero).summed(toShape: a.shape) : nil,
                    b.requiresGrad ? try Tensor.where(c, zero, g).summed(toShape: b.shape) : nil]
        }
    }
}
