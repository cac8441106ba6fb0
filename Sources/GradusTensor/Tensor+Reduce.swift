import GradusRuntime

extension Tensor {
    /// Normalised, sorted, de-duplicated axes (empty `axes` means all).
    func reductionAxes(_ axes: [Int]?) throws(GradusError) -> [Int] {
        guard let axes, !axes.isEmpty else { return Array(0..<rank) }
        var out: [Int] = []
        for a in axes {
            let n = a < 0 ? a + rank : a
            guard n >= 0, n < rank else { throw .invalidArgument("axis \(a) out of range for rank \(rank)") }
            guard !out.contains(n) else { throw .invalidArgument("axis \(a) repeated") }
            out.append(n)
        }
        return out.sorted()
    }

    /// Lays the reduced axes out as the middle of a contiguous (outer, R, inner) block, permuting and
    /// copying only when they are not already adjacent.
    func reductionLayout(_ axes: [Int]) throws(GradusError) -> (x: Tensor, outer: Int, r: Int, inner: Int, keptShape: [Int]) {
        let kept = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        let adjacent = axes.isEmpty || axes.last! - axes.first! + 1 == axes.count
        var x = self
        var first = axes.first ?? 0, last = axes.last ?? -1
        if !adjacent {
            let others = (0..<rank).filter { !axes.contains($0) }
            x = try GradMode.withoutGrad { () throws(GradusError) in try permuted(others + axes) }
            first = others.count; last = rank - 1
        }
        x = x.isContiguous ? x : GradMode.withoutGrad { x.contiguous() }
        let outer = x.shape[..<first].reduce(1, *)
        let r = axes.isEmpty ? 1 : x.shape[first...last].reduce(1, *)
        let inner = x.shape[(last + 1)...].reduce(1, *)
        return (x, outer, r, inner, kept)
    }

    /// Sum over `axes` (all when nil or empty).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) throws(GradusError) -> Tensor {
        let ax = try reductionAxes(axes)
        let (x, outer, r, inner, kept) = try reductionLayout(ax)
        let out = Tensor(uninitializedShape: kept, dtype: dtype)
        Kernels.reduce(.sum, x, outer: outer, r: r, inner: inner, into: out)
        let result = keepDims ? out : try GradMode.withoutGrad { () throws(GradusError) in try out.reshaped(dropping(ax)) }
        let inShape = shape
        return record(result, "sum", [self]) { g throws(GradusError) in
            [try g.reshaped(kept).expanded(to: inShape)]
        }
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) throws(GradusError) -> Tensor { try sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all when nil or empty).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) throws(GradusError) -> Tensor {
        let ax = try reductionAxes(axes)
        let n = ax.reduce(1) { $0 * shape[$1] }
        return try sum(axes: ax, keepDims: keepDims) * (1 / Double(Swift.max(n, 1)))
    }

    /// Variance (biased, like batch-norm statistics) over `axes`.
    public func variance(axes: [Int]? = nil, keepDims: Bool = false) throws(GradusError) -> Tensor {
        let mu = try mean(axes: axes, keepDims: true)
        return try (self - mu).square().mean(axes: axes, keepDims: keepDims)
    }

    func dropping(_ axes: [Int]) -> [Int] { shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element) }

    /// Maximum over one axis, with the winning indices. The gradient goes to the (first) arg-max.
    public func max(axis: Int, keepDims: Bool = false) throws(GradusError) -> (values: Tensor, indices: [Int]) {
        try extremum(.max, axis: axis, keepDims: keepDims)
    }
    public func min(axis: Int, keepDims: Bool = false) throws(GradusError) -> (values: Tensor, indices: [Int]) {
        try extremum(.min, axis: axis, keepDims: keepDims)
    }

    func extremum(_ op: ReduceOp, axis: Int, keepDims: Bool) throws(GradusError) -> (values: Tensor, indices: [Int]) {
        let a = try normalizedAxis(axis)
        guard shape[a] > 0 else { throw .invalidArgument("max/min over an empty axis") }
        let (x, outer, r, inner, kept) = try reductionLayout([a])
        let out = Tensor(uninitializedShape: kept, dtype: dtype)
        var idx = [Int](repeating: 0, count: outer * inner)
        idx.withUnsafeMutableBufferPointer { Kernels.reduce(op, x, outer: outer, r: r, inner: inner, into: out, indices: $0.baseAddress!) }
        let result = keepDims ? out : try GradMode.withoutGrad { () throws(GradusError) in try out.reshaped(dropping([a])) }
        let inShape = shape
        let picked = idx
        let valued = record(result, op == .max ? "max" : "min", [self]) { g throws(GradusError) in
            [try g.reshaped(kept).scatteredAlong(axis: a, indices: picked, size: inShape[a])]
        }
        return (valued, idx)
    }

    /// Maximum over all elements, as a 0-d tensor.
    public func max() throws(GradusError) -> Tensor { try flattened().max(axis: 0).values }

    /// Index of the maximum along `axis` (first on ties), as plain integers in row-major order of the rest.
    public func argmax(axis: Int) throws(GradusError) -> [Int] {
        try GradMode.withoutGrad { () throws(GradusError) in try max(axis: axis).indices }
    }

    /// log Σ exp over `axes` (all when empty), stable: the maximum is subtracted first. One fused kernel
    /// (two passes over each line, in cache). The gradient is the softmax over `axes`, written in tensor
    /// ops so that it can be differentiated again.
    public func logSumExp(axes: [Int], keepDims: Bool = false) throws(GradusError) -> Tensor {
        let ax = try reductionAxes(axes)
        let (x, outer, r, inner, kept) = try reductionLayout(ax)
        let out = Tensor(uninitializedShape: kept, dtype: dtype)
        Kernels.logSumExp(x, outer: outer, r: r, inner: inner, into: out)
        let result = keepDims ? out : try GradMode.withoutGrad { () throws(GradusError) in try out.reshaped(dropping(ax)) }
        let inShape = shape
        // The closure keeps a detached alias of the values, never `out` itself: with keepDims `out` is the
        // recorded result, which owns the node that owns this closure (a retain cycle that kept every graph alive).
        let saved = out.detached()
        return record(result, "logsumexp", [self]) { g throws(GradusError) in
            // Second order: recompute the log-sum-exp recorded, so the softmax depends on `self` in the graph.
            let lse = GradMode.isEnabled ? try self.logSumExp(axes: ax, keepDims: true) : saved
            return [try g.reshaped(kept).expanded(to: inShape) * (self - lse).exp()]
        }
    }

    /// Puts `self` (shape with a size-1 `axis`) at `indices` along `axis` of a zero tensor with `size` there:
    /// the adjoint of picking one element per line. Differentiable (its adjoint is the pick).
    func scatteredAlong(axis: Int, indices: [Int], size: Int) throws(GradusError) -> Tensor {
        var full = shape
        full[axis] = size
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let src = contiguous()
        let out = Tensor.zeros(full, dtype: dtype)
        func run<T: TensorScalar>(_: T.Type) {
            let s = src.basePointer(as: T.self), d = out.basePointer(as: T.self)
            for o in 0..<outer { for i in 0..<inner { d[(o * size + indices[o * inner + i]) * inner + i] = s[o * inner + i] } }
        }
        if dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return record(out, "scatter_line", [self]) { g throws(GradusError) in
            [try g.pickedAlong(axis: axis, indices: indices)]
        }
    }

    /// Picks element `indices[line]` along `axis` for every line; result has size 1 on `axis`. Differentiable.
    func pickedAlong(axis: Int, indices: [Int]) throws(GradusError) -> Tensor {
        var kept = shape
        let size = shape[axis]
        kept[axis] = 1
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let src = contiguous()
        let out = Tensor(uninitializedShape: kept, dtype: dtype)
        func run<T: TensorScalar>(_: T.Type) {
            let s = src.basePointer(as: T.self), d = out.basePointer(as: T.self)
            for o in 0..<outer { for i in 0..<inner { d[o * inner + i] = s[(o * size + indices[o * inner + i]) * inner + i] } }
        }
        if dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return record(out, "pick_line", [self]) { g throws(GradusError) in
            [try g.scatteredAlong(axis: axis, indices: indices, size: size)]
        }
    }
}
