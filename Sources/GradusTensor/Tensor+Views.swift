import GradusRuntime

/// Views share storage with their source: no element is copied.
extension Tensor {
    /// Same elements, new shape. One dimension may be -1 (inferred). Copies only when the view
    /// cannot be expressed with strides (then the result is contiguous).
    public func reshaped(_ newShape: [Int]) throws(GradusError) -> Tensor {
        var shape = newShape
        let known = newShape.filter { $0 != -1 }
        guard newShape.filter({ $0 == -1 }).count <= 1, known.allSatisfy({ $0 >= 0 }) else {
            throw .invalidArgument("reshape: invalid shape \(newShape)")
        }
        let knownCount = try Tensor.checkedCount(known)
        if let i = newShape.firstIndex(of: -1) {
            guard knownCount > 0, count % knownCount == 0 else { throw .shapeMismatch("reshape: cannot infer -1 in \(newShape) for \(count) elements") }
            shape[i] = count / knownCount
        }
        guard Tensor.elementCount(shape) == count else {
            throw .shapeMismatch("reshape: shape \(newShape) does not hold \(count) elements of \(self.shape)")
        }
        // Fix (tensortest): non-contiguous views were always copied, although the doc promises a view whenever
        // strides can express one (e.g. merging the trailing axes of a sliced tensor). Try strides first.
        let original = self.shape
        if !isContiguous, count > 0, let viewStrides = Tensor.viewStrides(from: self.shape, self.strides, to: shape) {
            let out = Tensor(storage: storage, shape: shape, strides: viewStrides, offset: offset, dtype: dtype)
            return record(out, "reshape", [self]) { g throws(GradusError) in [try g.reshaped(original)] }
        }
        let source = isContiguous ? self : contiguous()
        let out = Tensor(storage: source.storage, shape: shape, strides: Tensor.contiguousStrides(shape),
                         offset: source.offset, dtype: dtype)
        return source.record(out, "reshape", [source]) { g throws(GradusError) in [try g.reshaped(original)] }
    }

    /// Strides that read a (non-empty) view of `oldShape`/`oldStrides` as `newShape` in row-major order, or nil
    /// when a copy is needed (NumPy's `_attempt_nocopy_reshape`): each group of old axes that multiplies to a
    /// group of new axes must itself be contiguous.
    static func viewStrides(from oldShape: [Int], _ oldStrides: [Int], to newShape: [Int]) -> [Int]? {
        // Size-1 axes carry no layout information.
        let kept = oldShape.indices.filter { oldShape[$0] != 1 }
        let od = kept.map { oldShape[$0] }, os = kept.map { oldStrides[$0] }
        var ns = [Int](repeating: 1, count: newShape.count)
        var oi = 0, oj = 1, ni = 0, nj = 1
        while ni < newShape.count && oi < od.count {
            var np = newShape[ni], op = od[oi]
            while np != op {
                if np < op {
                    guard nj < newShape.count else { return nil }
                    np *= newShape[nj]; nj += 1
                } else {
                    guard oj < od.count else { return nil }
                    op *= od[oj]; oj += 1
                }
            }
            // old axes oi..<oj must be contiguous with each other
            for k in oi..<(oj - 1) where os[k] != od[k + 1] * os[k + 1] { return nil }
            ns[nj - 1] = os[oj - 1]
            var k = nj - 1
            while k > ni { ns[k - 1] = ns[k] * newShape[k]; k -= 1 }
            ni = nj; nj += 1; oi = oj; oj += 1
        }
        // Trailing size-1 axes: any stride; reuse the last one.
        let last = ni > 0 ? ns[ni - 1] : 1
        for k in ni..<newShape.count { ns[k] = last }
        return ns
    }

    /// Flattens dimensions `start...end` into one.
    public func flattened(from start: Int = 0, to end: Int = -1) throws(GradusError) -> Tensor {
        guard rank > 0 else { return try reshaped([1]) }
        let s = try normalizedAxis(start), e = try normalizedAxis(end)
        guard s <= e else { throw .invalidArgument("flatten: start \(start) after end \(end)") }
        let merged = shape[s...e].reduce(1, *)
        return try reshaped(Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    /// Reorders dimensions: result dimension i is source dimension `order[i]`.
    public func permuted(_ order: [Int]) throws(GradusError) -> Tensor {
        guard order.count == rank, Set(order).count == rank, order.allSatisfy({ $0 >= 0 && $0 < rank }) else {
            throw .invalidArgument("permute: \(order) is not a permutation of 0..<\(rank)")
        }
        let out = Tensor(storage: storage, shape: order.map { shape[$0] }, strides: order.map { strides[$0] },
                         offset: offset, dtype: dtype)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return record(out, "permute", [self]) { g throws(GradusError) in [try g.permuted(inverse)] }
    }

    /// Swaps two dimensions (default: the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) throws(GradusError) -> Tensor {
        guard rank >= 2 || (rank == 1 && a == -2 && b == -1) else {
            if rank < 2 { return self }
            throw .invalidArgument("transpose needs rank ≥ 2")
        }
        if rank < 2 { return self }
        let x = try normalizedAxis(a), y = try normalizedAxis(b)
        var order = Array(0..<rank)
        order.swapAt(x, y)
        return try permuted(order)
    }

    /// Elements `start..<end` (step `step`) along `axis`; a view.
    public func slice(axis: Int, start: Int, end: Int, step: Int = 1) throws(GradusError) -> Tensor {
        let a = try normalizedAxis(axis)
        let n = shape[a]
        let s = start < 0 ? start + n : start, e = end < 0 ? end + n : end
        guard step > 0, s >= 0, e <= n, s <= e else {
            throw .invalidArgument("slice [\(start)..<\(end) step \(step)] out of range for axis \(axis) of size \(n)")
        }
        var newShape = shape, newStrides = strides
        newShape[a] = (e - s + step - 1) / step
        newStrides[a] = strides[a] * step
        let out = Tensor(storage: storage, shape: newShape, strides: newStrides, offset: offset + s * strides[a], dtype: dtype)
        let full = shape
        return record(out, "slice", [self]) { g throws(GradusError) in
            [try g.embeddedSlice(into: full, axis: a, start: s, step: step)]
        }
    }

    /// Zeros of `shape` with `self` written at a slice: the adjoint of `slice` (differentiable).
    public func embeddedSlice(into full: [Int], axis: Int, start: Int, step: Int) throws(GradusError) -> Tensor {
        let out = Tensor.zeros(full, dtype: dtype)
        // Fix (tensortest): an empty slice with step > 1 computed end = start − step + 1 < start and threw.
        let end = shape[axis] == 0 ? start : start + (shape[axis] - 1) * step + 1
        let view = try GradMode.withoutGrad { () throws(GradusError) in
            try out.slice(axis: axis, start: start, end: end, step: step)
        }
        Kernels.copy(from: self, to: view)
        return record(out, "embed_slice", [self]) { g throws(GradusError) in
            [try g.slice(axis: axis, start: start, end: end, step: step)]
        }
    }

    /// Views with a size-1 dimension inserted at `axis`.
    public func unsqueezed(_ axis: Int) throws(GradusError) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        guard a >= 0, a <= rank else { throw .invalidArgument("unsqueeze: axis \(axis) out of range for rank \(rank)") }
        var s = shape
        s.insert(1, at: a)
        return try reshaped(s)
    }

    /// Removes size-1 dimensions (all, or the given one).
    public func squeezed(_ axis: Int? = nil) throws(GradusError) -> Tensor {
        if let axis {
            let a = try normalizedAxis(axis)
            guard shape[a] == 1 else { throw .invalidArgument("squeeze: axis \(axis) has size \(shape[a])") }
            var s = shape
            s.remove(at: a)
            return try reshaped(s)
        }
        return try reshaped(shape.filter { $0 != 1 })
    }

    /// Broadcasts to `newShape` without copying (stride-0 dimensions).
    public func expanded(to newShape: [Int]) throws(GradusError) -> Tensor {
        guard let b = Strided.broadcastShape(shape, newShape), b == newShape else {
            throw .shapeMismatch("cannot expand \(shape) to \(newShape)")
        }
        if newShape == shape { return self }
        let out = Tensor(storage: storage, shape: newShape,
                         strides: Strided.broadcastStrides(shape: shape, strides: strides, to: newShape),
                         offset: offset, dtype: dtype)
        let original = shape
        return record(out, "expand", [self]) { g throws(GradusError) in [try g.summed(toShape: original)] }
    }

    /// Sums a broadcast result back to `target` (the adjoint of broadcasting).
    public func summed(toShape target: [Int]) throws(GradusError) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        guard lead >= 0 else { throw .shapeMismatch("cannot reduce \(shape) to \(target)") }
        var axes = Array(0..<lead)
        for (i, d) in target.enumerated() where d == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        let s = axes.isEmpty ? self : try sum(axes: axes, keepDims: true)
        return try s.reshaped(target)
    }
}
