import GradusRuntime

extension Tensor {
    /// Picks one element per line along `axis` (like `torch.gather` with an index of size 1 on `axis`):
    /// `indices` holds one entry per line, in row-major order of the other dimensions. The result keeps
    /// `axis` with size 1 when `keepDims`, else drops it.
    public func gather(axis: Int, indices: [Int], keepDims: Bool = false) throws(GradusError) -> Tensor {
        let a = try normalizedAxis(axis)
        // Fix (tensortest): lines = count / shape[a] is 0 for an empty axis, so `indices: []` passed the check and
        // the kernel then read indices[0] for each of the (non-zero) lines and trapped.
        let lines = shape.enumerated().reduce(1) { $1.offset == a ? $0 : $0 * $1.element }
        guard indices.count == lines else {
            throw .shapeMismatch("gather: \(indices.count) indices for \(lines) lines of \(shape) along axis \(a)")
        }
        for i in indices where i < 0 || i >= shape[a] {
            throw .invalidArgument("gather: index \(i) out of range 0..<\(shape[a])")
        }
        let picked = try pickedAlong(axis: a, indices: indices)
        return keepDims ? picked : try picked.squeezed(a)
    }

    /// Rows (entries along `axis`) at `indices`, in that order; repeats allowed (embedding lookup).
    public func indexSelect(axis: Int, indices: [Int]) throws(GradusError) -> Tensor {
        let a = try normalizedAxis(axis)
        for i in indices where i < 0 || i >= shape[a] {
            throw .invalidArgument("index_select: index \(i) out of range 0..<\(shape[a])")
        }
        let src = contiguous()
        var outShape = shape
        outShape[a] = indices.count
        let out = Tensor(uninitializedShape: outShape, dtype: dtype)
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *), n = shape[a]
        func run<T: TensorScalar>(_: T.Type) {
            let s = src.basePointer(as: T.self), d = out.basePointer(as: T.self)
            for o in 0..<outer {
                for (j, i) in indices.enumerated() {
                    (d + (o * indices.count + j) * inner).update(from: s + (o * n + i) * inner, count: inner)
                }
            }
        }
        if dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return record(out, "index_select", [self]) { g throws(GradusError) in
            [try g.indexAdd(axis: a, indices: indices, size: n)]
        }
    }

    /// The adjoint of `indexSelect`: a zero tensor with `size` entries on `axis`, where entry `indices[j]`
    /// accumulates slice j of `self` (scatter-add). Differentiable.
    public func indexAdd(axis: Int, indices: [Int], size: Int) throws(GradusError) -> Tensor {
        let a = try normalizedAxis(axis)
        guard indices.count == shape[a] else { throw .shapeMismatch("index_add: \(indices.count) indices for axis size \(shape[a])") }
        for i in indices where i < 0 || i >= size { throw .invalidArgument("index_add: index \(i) out of range 0..<\(size)") }
        let src = contiguous()
        var outShape = shape
        outShape[a] = size
        let out = Tensor.zeros(outShape, dtype: dtype)
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        func run<T: TensorScalar>(_: T.Type) {
            let s = src.basePointer(as: T.self), d = out.basePointer(as: T.self)
            for o in 0..<outer {
                for (j, i) in indices.enumerated() {
                    let dst = d + (o * size + i) * inner, from = s + (o * indices.count + j) * inner
                    for k in 0..<inner { dst[k] += from[k] }
                }
            }
        }
        if dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return record(out, "index_add", [self]) { g throws(GradusError) in [try g.indexSelect(axis: a, indices: indices)] }
    }

    /// Scatter-add of one value per line (the adjoint of `gather`): zeros of `shape` with `self`'s line
    /// values added at `indices` along `axis`.
    public func scatterAdd(axis: Int, indices: [Int], size: Int) throws(GradusError) -> Tensor {
        let a = try normalizedAxis(axis, rankOverride: rank + 1)
        let lifted = try unsqueezed(a)
        for i in indices where i < 0 || i >= size { throw .invalidArgument("scatter_add: index \(i) out of range 0..<\(size)") }
        guard indices.count == count else { throw .shapeMismatch("scatter_add: \(indices.count) indices for \(count) values") }
        return try lifted.scatteredAlong(axis: a, indices: indices, size: size)
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concat(_ tensors: [Tensor], axis: Int) throws(GradusError) -> Tensor {
        guard let first = tensors.first else { throw .invalidArgument("concat of no tensors") }
        let a = try first.normalizedAxis(axis)
        var total = 0
        for t in tensors {
            guard t.dtype == first.dtype else { throw .dtypeMismatch("concat: mixed dtypes") }
            guard t.rank == first.rank, (0..<t.rank).allSatisfy({ $0 == a || t.shape[$0] == first.shape[$0] }) else {
                throw .shapeMismatch("concat: \(t.shape) does not match \(first.shape) off axis \(a)")
            }
            total += t.shape[a]
        }
        var outShape = first.shape
        outShape[a] = total
        let out = Tensor(uninitializedShape: outShape, dtype: first.dtype)
        var start = 0
        for t in tensors {
            let view = try GradMode.withoutGrad { () throws(GradusError) in try out.slice(axis: a, start: start, end: start + t.shape[a]) }
            Kernels.copy(from: t, to: view)
            start += t.shape[a]
        }
        let sizes = tensors.map { $0.shape[a] }
        return record(out, "concat", tensors) { g throws(GradusError) in
            var grads: [Tensor?] = []
            var s = 0
            for n in sizes { grads.append(try g.slice(axis: a, start: s, end: s + n)); s += n }
            return grads
        }
    }

    /// Stacks same-shape tensors along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) throws(GradusError) -> Tensor {
        guard let first = tensors.first else { throw .invalidArgument("stack of no tensors") }
        for t in tensors where t.shape != first.shape { throw .shapeMismatch("stack: \(t.shape) differs from \(first.shape)") }
        var lifted: [Tensor] = []
        for t in tensors { lifted.append(try t.unsqueezed(axis)) }
        return try concat(lifted, axis: axis)
    }

    /// Splits along `axis` into pieces of the given sizes (views).
    public func split(sizes: [Int], axis: Int) throws(GradusError) -> [Tensor] {
        let a = try normalizedAxis(axis)
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == shape[a] else {
            throw .shapeMismatch("split: sizes \(sizes) do not add up to \(shape[a])")
        }
        var out: [Tensor] = []
        var s = 0
        for n in sizes { out.append(try slice(axis: a, start: s, end: s + n)); s += n }
        return out
    }

    /// Log-softmax along `axis` (stable).
    public func logSoftmax(axis: Int = -1) throws(GradusError) -> Tensor {
        try self - logSumExp(axes: [axis], keepDims: true)
    }

    /// Softmax along `axis`.
    public func softmax(axis: Int = -1) throws(GradusError) -> Tensor { try logSoftmax(axis: axis).exp() }
}
