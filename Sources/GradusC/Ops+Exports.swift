// Section "Tensors" of include/gradus.h: the operations (coarse: one call per whole-tensor op).
import Gradus
import _GradusShims

private func axesArg(_ axes: UnsafePointer<Int32>?, _ naxes: Int32, rank: Int) throws(GradusError) -> [Int]? {
    guard naxes >= 0, naxes <= GRADUS_MAX_RANK else { throw .invalidArgument("naxes \(naxes) is not in 0...\(GRADUS_MAX_RANK)") }
    if naxes == 0 { return nil }
    let axes = try require(axes, "axes")
    var seen = Set<Int>()
    var out: [Int] = []
    for i in 0..<Int(naxes) {
        let a = Int(axes[i])
        guard a >= -rank, a < rank else { throw .invalidArgument("axis \(a) out of range for rank \(rank)") }
        let n = a < 0 ? a + rank : a
        guard seen.insert(n).inserted else { throw .invalidArgument("axis \(a) repeated") }
        out.append(n)
    }
    return out
}

/// Element count of the right-aligned broadcast of two shapes (1 when either is broadcastable-empty), or nil
/// when they do not broadcast. Overflow-safe: saturates at Int.max.
private func broadcastCount(_ a: [Int], _ b: [Int]) -> Int? {
    var total = 1
    for i in 0..<Swift.max(a.count, b.count) {
        let x = i < a.count ? a[a.count - 1 - i] : 1, y = i < b.count ? b[b.count - 1 - i] : 1
        guard x == y || x == 1 || y == 1 else { return nil }
        let d = (x == 1) ? y : x
        let (p, o) = total.multipliedReportingOverflow(by: d)
        total = o ? Int.max : p
    }
    return total
}

/// A Swift allocation failure traps, so a result larger than physical memory is refused before computing it.
private func checkResult(_ count: Int, _ dtype: DType, _ what: String) throws(GradusError) {
    let (bytes, o) = count.multipliedReportingOverflow(by: dtype.size)
    guard !o, bytes <= physicalMemoryBytes else {
        throw .outOfMemory("\(what): the result would need \(count) elements, more than memory holds")
    }
}

private func axisArg(_ axis: Int32, rank: Int) throws(GradusError) -> Int {
    let a = Int(axis)
    guard a >= -Swift.max(rank, 1), a < Swift.max(rank, 1) else { throw .invalidArgument("axis \(a) out of range for rank \(rank)") }
    return a
}

@c @implementation public func gradus_tensor_unary(_ op: gradus_unary_op, _ x: gradus_tensor?, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let x = try tensorArg(x, "x")
        let y: Tensor
        switch op {
        case GRADUS_UNARY_OP_NEG: y = x.affine(-1, 0)
        case GRADUS_UNARY_OP_EXP: y = x.exp()
        case GRADUS_UNARY_OP_LOG: y = x.log()
        case GRADUS_UNARY_OP_SQRT: y = x.sqrt()
        case GRADUS_UNARY_OP_ABS: y = x.abs()
        case GRADUS_UNARY_OP_SQUARE: y = x.square()
        case GRADUS_UNARY_OP_RELU: y = x.relu()
        case GRADUS_UNARY_OP_SIGMOID: y = x.sigmoid()
        case GRADUS_UNARY_OP_TANH: y = x.tanh()
        case GRADUS_UNARY_OP_GELU: y = try x.gelu()
        case GRADUS_UNARY_OP_SILU: y = try x.silu()
        case GRADUS_UNARY_OP_SIN: y = x.sin()
        case GRADUS_UNARY_OP_COS: y = x.cos()
        default: throw .invalidArgument("op \(op) is not a GRADUS_UNARY_OP_* value")
        }
        emit(y, out)
    }
}

@c @implementation public func gradus_tensor_binary(
    _ op: gradus_binary_op, _ a: gradus_tensor?, _ b: gradus_tensor?, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        guard op >= GRADUS_BINARY_OP_ADD, op <= GRADUS_BINARY_OP_POW else {
            throw .invalidArgument("op \(op) is not a GRADUS_BINARY_OP_* value")
        }
        let a = try tensorArg(a, "a"), b = try tensorArg(b, "b")
        guard a.dtype == b.dtype else { throw .dtypeMismatch("a is \(a.dtype), b is \(b.dtype)") }
        guard let n = broadcastCount(a.shape, b.shape) else { throw .shapeMismatch("shapes \(a.shape) and \(b.shape) do not broadcast") }
        try checkResult(n, a.dtype, "binary op")
        let y: Tensor
        switch op {
        case GRADUS_BINARY_OP_ADD: y = try a + b
        case GRADUS_BINARY_OP_SUB: y = try a - b
        case GRADUS_BINARY_OP_MUL: y = try a * b
        case GRADUS_BINARY_OP_DIV: y = try a / b
        case GRADUS_BINARY_OP_MAXIMUM: y = try Tensor.maximum(a, b)
        case GRADUS_BINARY_OP_MINIMUM: y = try Tensor.minimum(a, b)
        default: y = try Tensor.pow(a, b)
        }
        emit(y, out)
    }
}

@c @implementation public func gradus_tensor_affine(_ x: gradus_tensor?, _ scale: Double, _ shift: Double, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        emit(try tensorArg(x, "x").affine(scale, shift), out)
    }
}

@c @implementation public func gradus_tensor_matmul(_ a: gradus_tensor?, _ b: gradus_tensor?, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let a = try tensorArg(a, "a"), b = try tensorArg(b, "b")
        guard a.dtype == b.dtype else { throw .dtypeMismatch("a is \(a.dtype), b is \(b.dtype)") }
        guard a.rank >= 1, b.rank >= 1 else { throw .shapeMismatch("matmul needs operands of rank >= 1, got \(a.shape) and \(b.shape)") }
        let m = a.rank >= 2 ? a.shape[a.rank - 2] : 1, n = b.rank >= 2 ? b.shape[b.rank - 1] : 1
        if let batch = broadcastCount(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2))) {
            let (mn, o1) = m.multipliedReportingOverflow(by: n)
            let (total, o2) = batch.multipliedReportingOverflow(by: o1 ? Int.max : mn)
            try checkResult(o1 || o2 ? Int.max : total, a.dtype, "matmul")
        }
        emit(try a.matmul(b), out)
    }
}

@c @implementation public func gradus_tensor_sum(
    _ x: gradus_tensor?, _ axes: UnsafePointer<Int32>?, _ naxes: Int32, _ keepdims: Int32, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let x = try tensorArg(x, "x")
        emit(try x.sum(axes: try axesArg(axes, naxes, rank: x.rank), keepDims: keepdims != 0), out)
    }
}

@c @implementation public func gradus_tensor_mean(
    _ x: gradus_tensor?, _ axes: UnsafePointer<Int32>?, _ naxes: Int32, _ keepdims: Int32, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let x = try tensorArg(x, "x")
        emit(try x.mean(axes: try axesArg(axes, naxes, rank: x.rank), keepDims: keepdims != 0), out)
    }
}

@c @implementation public func gradus_tensor_softmax(_ x: gradus_tensor?, _ axis: Int32, _ log: Int32, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let x = try tensorArg(x, "x")
        guard x.rank >= 1 else { throw .shapeMismatch("softmax needs rank >= 1") }
        let a = try axisArg(axis, rank: x.rank)
        emit(log != 0 ? try x.logSoftmax(axis: a) : try x.softmax(axis: a), out)
    }
}

@c @implementation public func gradus_tensor_reshape(
    _ x: gradus_tensor?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let x = try tensorArg(x, "x")
        guard ndim >= 0, ndim <= GRADUS_MAX_RANK else { throw .invalidArgument("ndim \(ndim) is not in 0...\(GRADUS_MAX_RANK)") }
        var dims: [Int] = []
        if ndim > 0 {
            let shape = try require(shape, "shape")
            var inferred = 0
            for i in 0..<Int(ndim) {
                let d = shape[i]
                if d == -1 { inferred += 1 } else if d < 0 || d > Int64(Int32.max) * 1024 {
                    throw .invalidArgument("shape[\(i)] is \(d)")
                }
                dims.append(Int(d))
            }
            guard inferred <= 1 else { throw .invalidArgument("at most one dimension may be -1") }
        }
        let known = dims.filter { $0 >= 0 }.reduce(1) { r, d in r.multipliedReportingOverflow(by: d).overflow ? Int.max : r * d }
        if dims.contains(-1) {
            guard known > 0, x.count % known == 0 else {
                throw .shapeMismatch("cannot reshape \(x.shape) (\(x.count) elements) to \(dims)")
            }
        } else if known != x.count {
            throw .shapeMismatch("cannot reshape \(x.shape) (\(x.count) elements) to \(dims)")
        }
        emit(try x.reshaped(dims), out)
    }
}

@c @implementation public func gradus_tensor_transpose(_ x: gradus_tensor?, _ a: Int32, _ b: Int32, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let x = try tensorArg(x, "x")
        guard x.rank >= 2 else { throw .invalidArgument("transpose needs rank >= 2, got \(x.shape)") }
        let aa = Int(a), bb = Int(b), r = x.rank
        guard aa >= -r, aa < r, bb >= -r, bb < r else { throw .invalidArgument("axes (\(a), \(b)) out of range for rank \(r)") }
        emit(try x.transposed(aa, bb), out)
    }
}

@c @implementation public func gradus_tensor_argmax(_ x: gradus_tensor?, _ out: UnsafeMutablePointer<Int64>?, _ count: Int) -> gradus_status {
    guarded { () throws(GradusError) in
        let x = try tensorArg(x, "x")
        guard x.rank >= 1, x.shape.last! > 0 else { throw .shapeMismatch("argmax needs rank >= 1 and a non-empty last axis, got \(x.shape)") }
        let rows = x.count / x.shape.last!
        guard count >= rows else { throw .shapeMismatch("count \(count) < \(rows) rows") }
        if rows == 0 { return }
        let out = try require(out, "out")
        for (i, v) in try x.argmax(axis: -1).enumerated() { out[i] = Int64(v) }
    }
}

private func axpy<T: TensorScalar>(_ y: Tensor, _ alpha: Double, _ x: Tensor, _: T.Type) throws(GradusError) {
    // y: (n), x: (n), contiguous
    let n = y.count
    let yp = y.basePointer(as: T.self)
    let xc = x.contiguous()
    let xp = xc.basePointer(as: T.self)
    let a = T(alpha)
    var i = 0
    while i < n { yp[i] = yp[i].addingProduct(a, xp[i]); i &+= 1 }
}

@c @implementation public func gradus_tensor_axpy(_ y: gradus_tensor?, _ alpha: Double, _ x: gradus_tensor?) -> gradus_status {
    guarded { () throws(GradusError) in
        let y = try tensorArg(y, "y"), x = try tensorArg(x, "x")
        guard y.shape == x.shape else { throw .shapeMismatch("y is \(y.shape), x is \(x.shape)") }
        guard y.dtype == x.dtype else { throw .dtypeMismatch("y is \(y.dtype), x is \(x.dtype)") }
        guard y.isContiguous else { throw .invalidState("y is a non-contiguous view") }
        if y.dtype == .float32 { try axpy(y, alpha, x, Float.self) } else { try axpy(y, alpha, x, Double.self) }
    }
}
