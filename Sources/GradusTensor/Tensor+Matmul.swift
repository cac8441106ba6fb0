import CBLAS
import GradusRuntime

extension Tensor {
    /// How a 2-D (last-two-dims) operand can be handed to BLAS without copying: row-major with a leading
    /// dimension, or the transpose of such a matrix.
    fileprivate func blasLayout() -> (trans: Bool, ld: Int)? {
        let r = rank
        let rows = shape[r - 2], cols = shape[r - 1]
        let s0 = strides[r - 2], s1 = strides[r - 1]
        if (s1 == 1 || cols == 1) && s0 >= Swift.max(cols, 1) { return (false, Swift.max(s0, 1)) }
        if (s0 == 1 || rows == 1) && s1 >= Swift.max(rows, 1) { return (true, Swift.max(s1, 1)) }
        return nil
    }

    /// Matrix product with NumPy semantics: (…, M, K) @ (…, K, N) → (…, M, N), batch dimensions broadcast;
    /// a 1-D operand is treated as a row (left) or column (right) vector. Uses `cblas_sgemm`/`dgemm`;
    /// transposed views are passed to BLAS as transposes, not copied.
    public func matmul(_ other: Tensor) throws(GradusError) -> Tensor {
        guard dtype == other.dtype else { throw .dtypeMismatch("matmul operands are \(dtype) and \(other.dtype)") }
        guard rank >= 1, other.rank >= 1 else { throw .shapeMismatch("matmul needs tensors of rank ≥ 1") }
        // Fix (tensortest): vector @ vector went (1, K) @ (K,) → (1,) and then squeezed axis −2 of a rank-1
        // result, which threw; it is the 0-d dot product.
        if rank == 1 && other.rank == 1 { return try unsqueezed(0).matmul(other.unsqueezed(-1)).reshaped([]) }
        if rank == 1 { return try unsqueezed(0).matmul(other).squeezed(-2) }
        if other.rank == 1 { return try matmul(other.unsqueezed(-1)).squeezed(-1) }
        let m = shape[rank - 2], k = shape[rank - 1], k2 = other.shape[other.rank - 2], n = other.shape[other.rank - 1]
        guard k == k2 else { throw .shapeMismatch("matmul: \(shape) @ \(other.shape): inner dimensions \(k) and \(k2) differ") }
        guard let batch = Strided.broadcastShape(Array(shape.dropLast(2)), Array(other.shape.dropLast(2))) else {
            throw .shapeMismatch("matmul: batch dimensions of \(shape) and \(other.shape) do not broadcast")
        }
        let outShape = batch + [m, n]
        let out = Tensor(uninitializedShape: outShape, dtype: dtype)
        let a = try GradMode.withoutGrad { () throws(GradusError) in
            try (shape.dropLast(2) == batch[...] ? self : expanded(to: batch + [m, k]))
        }
        let b = try GradMode.withoutGrad { () throws(GradusError) in
            try (other.shape.dropLast(2) == batch[...] ? other : other.expanded(to: batch + [k, n]))
        }
        Tensor.gemmBatched(a, b, out, batch: batch, m: m, n: n, k: k)
        let lhs = self, rhs = other
        return record(out, "matmul", [self, other]) { g throws(GradusError) in
            let ga = lhs.requiresGrad ? try g.matmul(rhs.transposed()).summed(toShape: lhs.shape) : nil
            let gb = rhs.requiresGrad ? try lhs.transposed().matmul(g).summed(toShape: rhs.shape) : nil
            return [ga, gb]
        }
    }

    /// C[b] = A[b] · B[b] for every batch index; A, B may be broadcast (stride-0) views.
    static func gemmBatched(_ a: Tensor, _ b: Tensor, _ c: Tensor, batch: [Int], m: Int, n: Int, k: Int) {
        let count = batch.reduce(1, *)
        if m == 0 || n == 0 { return }
        if k == 0 { Kernels.fill(c, 0); return }
        let a2 = a.blasLayout() == nil ? GradMode.withoutGrad { a.contiguous() } : a
        let b2 = b.blasLayout() == nil ? GradMode.withoutGrad { b.contiguous() } : b
        let la = a2.blasLayout()!, lb = b2.blasLayout()!
        let aBatchStrides = Array(a2.strides.dropLast(2)), bBatchStrides = Array(b2.strides.dropLast(2))
        func run<T: TensorScalar>(_: T.Type) {
            let ap = UnsafePointer(a2.storage.raw.assumingMemoryBound(to: T.self))
            let bp = UnsafePointer(b2.storage.raw.assumingMemoryBound(to: T.self))
            let cp = c.storage.raw.assumingMemoryBound(to: T.self)
            func item(_ i: Int) {
                var rem = i, offA = a2.offset, offB = b2.offset
                for d in stride(from: batch.count - 1, through: 0, by: -1) {
                    let idx = rem % batch[d]; rem /= batch[d]
                    offA += idx * aBatchStrides[d]; offB += idx * bBatchStrides[d]
                }
                TiledGEMM.run(T.self, transA: la.trans, transB: lb.trans, m: m, n: n, k: k, a: ap + offA, lda: la.ld,
                              b: bp + offB, ldb: lb.ld, beta: 0, c: cp + i * m * n, ldc: n)
            }
            // Batch items in parallel (each one single-threaded BLAS call or a fixed set of tiles: the same
            // result at any thread count); small batches of small products stay on the caller.
            if count > 1 && count * m * n * k >= TiledGEMM.minimumFlops && BLASThreading.threadCount == 1 {
                ThreadPool.shared.parallelFor(count, grain: Swift.max(1, TiledGEMM.minimumFlops / Swift.max(m * n * k, 1))) { r, _ in
                    for i in r { item(i) }
                }
            } else {
                for i in 0..<count { item(i) }
            }
        }
        if c.dtype == .float32 { run(Float.self) } else { run(Double.self) }
    }

    /// Fused x·Wᵀ + b (the Linear layer), W of shape (out, in): one GEMM with the bias preloaded into C.
    public static func linear(_ x: Tensor, weight w: Tensor, bias: Tensor?) throws(GradusError) -> Tensor {
        guard x.dtype == w.dtype, bias.map({ $0.dtype == x.dtype }) ?? true else {
            throw .dtypeMismatch("linear: input \(x.dtype), weight \(w.dtype)")
        }
        guard w.rank == 2, x.rank >= 1, x.shape.last == w.shape[1] else {
            throw .shapeMismatch("linear: input \(x.shape) does not match weight \(w.shape) (out, in)")
        }
        if let bias, bias.shape != [w.shape[0]] { throw .shapeMismatch("linear: bias \(bias.shape) should be [\(w.shape[0])]") }
        let inF = w.shape[1], outF = w.shape[0]
        // x2: (m, inF). Fix (tensortest): m is the product of the leading dims; reshaped([-1, 0]) threw for inF = 0.
        let m = x.shape.dropLast().reduce(1, *)
        let x2 = x.rank == 2 ? x : try GradMode.withoutGrad { () throws(GradusError) in try x.reshaped([m, inF]) }
        let out = Tensor(uninitializedShape: [m, outF], dtype: x.dtype)
        if let bias { Kernels.copy(from: try GradMode.withoutGrad { () throws(GradusError) in try bias.expanded(to: [m, outF]) }, to: out) }
        let xa = x2.blasLayout() == nil ? GradMode.withoutGrad { x2.contiguous() } : x2
        let wa = w.blasLayout() == nil ? GradMode.withoutGrad { w.contiguous() } : w
        let lx = xa.blasLayout()!, lw = wa.blasLayout()!
        let beta = bias == nil ? 0.0 : 1.0
        if m > 0 && outF > 0 {
            // C = x·Wᵀ: W stored (out, in) is op(B) transposed unless the view already is a transpose.
            func run<T: TensorScalar>(_: T.Type) {
                TiledGEMM.run(T.self, transA: lx.trans, transB: !lw.trans, m: m, n: outF, k: inF,
                              a: UnsafePointer(xa.basePointer(as: T.self)), lda: lx.ld,
                              b: UnsafePointer(wa.basePointer(as: T.self)), ldb: lw.ld,
                              beta: T(beta), c: out.basePointer(as: T.self), ldc: outF)
            }
            if x.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        }
        let outShape = Array(x.shape.dropLast()) + [outF]
        let result = x.rank == 2 ? out : try GradMode.withoutGrad { () throws(GradusError) in try out.reshaped(outShape) }
        return record(result, "linear", bias.map { [x, w, $0] } ?? [x, w]) { g throws(GradusError) in
            let g2 = try g.reshaped([m, outF])
            let gx = x.requiresGrad ? try g2.matmul(w).reshaped(x.shape) : nil
            // Fix (tensortest): reshape x here rather than reuse x2, which was made without recording, so that
            // with createGraph the weight gradient stays connected to x (second derivatives for rank ≠ 2 inputs).
            let gw = w.requiresGrad ? try g2.transposed().matmul(x.rank == 2 ? x : x.reshaped([m, inF])) : nil
            var grads: [Tensor?] = [gx, gw]
            if let bias { grads.append(bias.requiresGrad ? try g2.sum(axis: 0) : nil) }
            return grads
        }
    }
}
