import GradusQuant
import GradusRuntime
import _GradusShims

/// Adam's preconditioner with both moments stored in 8 bits, blockwise (bitsandbytes `Adam8bit` on CPU,
/// spec `lowbit.md` §4.3). Per block of `blockSize` (256) elements, fused into the optimizer's blocks:
/// dequantize `m` (dynamic signed map) and `v` (dynamic unsigned map), `m ← β1'm + (1−β1')g`,
/// `v ← β2 v + (1−β2)g²`, output `m/(√v/√(1−β2^k) + ε)` with the step factor `1/(1−β1^k)` folded into the
/// update, then requantize both with a fresh absmax (nearest code, ties to the lower value).
///
/// Deviation (float32 8-bit path): the division `√v/c2` is computed as `√v·(1/c2)`, the reciprocal rounded once
/// per step from double. It differs from the spec's division by at most one rounding of the denominator (the
/// codes, which depend only on `m` and `v`, are unchanged); it spares one of the step's two divisions per element,
/// the divider being the bottleneck of the fused loop (9% of the step on Zen 1). Small tensors (float moments)
/// keep the division.
///
/// Tensors with fewer than `minQuantizedSize` (4096) elements keep float32 moments, as bitsandbytes does.
/// `β1' = β1·s_t` when a `CosineDecayFactor` is given (Stable-SPAM). Resettable (momentum resets zero the
/// codes and absmax of each block).
///
/// Reference: Dettmers et al., "8-bit Optimizers via Block-wise Quantization"; bitsandbytes
/// `optim/optimizer.py` (`Optimizer8bit`), `backends/cpu/ops.py`.
public struct AdamPreconditioner8bit<Scalar: OptimizerScalar>: ResettableTransform, AdamHyperparameters {
    /// Where a tensor's moments live.
    public enum Moments {
        case quantized(Blockwise8bitMoments)
        case full(m: StateBuffer<Scalar>, v: StateBuffer<Scalar>)
    }

    public struct State: TransformState {
        public let moments: Moments
        let count: Int
        let shape: [Int]
        var beta1: Scalar = 0
        /// `√(1−β2^k)` (float moments) and its reciprocal, rounded once from double (8-bit moments).
        var correction2: Scalar = 1
        var inverseCorrection2: Scalar = 1

        /// Bytes of optimizer state held for this tensor.
        public var byteCount: Int {
            switch moments {
            case .quantized(let q): return q.byteCount
            case .full(let m, _): return 2 * m.count * MemoryLayout<Scalar>.size
            }
        }

        public func write(to writer: inout StateWriter) {
            switch moments {
            case .quantized(let q):
                writer.write("state1", (0..<q.count).map { Double(q.codesM[$0]) })
                writer.write("absmax1", (0..<q.blockCount).map { Double(q.absmaxM[$0]) })
                writer.write("state2", (0..<q.count).map { Double(q.codesV[$0]) })
                writer.write("absmax2", (0..<q.blockCount).map { Double(q.absmaxV[$0]) })
            case .full(let m, let v):
                writer.write("exp_avg", m, shape: shape)
                writer.write("exp_avg_sq", v, shape: shape)
            }
        }

        public mutating func read(from reader: StateReader) throws(GradusError) {
            switch moments {
            case .quantized(let q):
                let c1 = try reader.read("state1", count: q.count), c2 = try reader.read("state2", count: q.count)
                let a1 = try reader.read("absmax1", count: q.blockCount), a2 = try reader.read("absmax2", count: q.blockCount)
                for c in c1 + c2 where !(c >= 0 && c <= 255 && c == c.rounded()) {
                    throw .invalidArgument("8-bit optimizer state codes must be integers in 0...255 (got \(c))")
                }
                for i in 0..<q.count { q.codesM[i] = UInt8(c1[i]); q.codesV[i] = UInt8(c2[i]) }
                for b in 0..<q.blockCount { q.absmaxM[b] = Float(a1[b]); q.absmaxV[b] = Float(a2[b]) }
            case .full(let m, let v):
                try reader.read("exp_avg", into: m)
                try reader.read("exp_avg_sq", into: v)
            }
        }
    }

    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    /// Elements per quantization block (256); must divide `FusedOptimizer.blockSize` (2048).
    public let blockSize: Int
    /// Tensors smaller than this keep full-precision moments (4096).
    public let minQuantizedSize: Int
    /// Optional cosine factor `s_t` on β1 (Stable-SPAM's `total_T`).
    public var beta1Decay: CosineDecayFactor?
    /// Tests: run the plain reference kernel (`applyQuantizedReference`) instead of the fast one.
    var usesReferenceKernel = false

    /// - Throws: `invalidArgument` for betas outside [0, 1), a negative ε, or a block size that is not a
    ///   positive divisor of the optimizer's block (2048).
    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, blockSize: Int = 256,
                minQuantizedSize: Int = 4096, beta1Decay: CosineDecayFactor? = nil) throws(GradusError) {
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else {
            throw .invalidArgument("8-bit Adam: betas must lie in [0, 1) (got \(beta1), \(beta2))")
        }
        guard epsilon >= 0 else { throw .invalidArgument("8-bit Adam: epsilon must be ≥ 0 (got \(epsilon))") }
        let fused = FusedOptimizer<Scalar>.blockSize
        guard blockSize > 0, fused % blockSize == 0 else {
            throw .invalidArgument("8-bit Adam: block size \(blockSize) must be a positive divisor of \(fused)")
        }
        guard minQuantizedSize >= 0 else { throw .invalidArgument("8-bit Adam: minQuantizedSize must be ≥ 0") }
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.blockSize = blockSize; self.minQuantizedSize = minQuantizedSize; self.beta1Decay = beta1Decay
    }

    public var name: String { "AdamPreconditioner8bit" }

    /// Whether a tensor of `count` elements gets 8-bit moments.
    public func quantizes(count: Int) -> Bool { count >= minQuantizedSize && count > 0 }

    public func makeState(for parameter: ParameterInfo) -> State {
        let n = parameter.count
        let moments: Moments = quantizes(count: n)
            ? .quantized(Blockwise8bitMoments(count: n, blockSize: blockSize))
            : .full(m: StateBuffer(count: n), v: StateBuffer(count: n))
        return State(moments: moments, count: n, shape: parameter.shape)
    }

    /// Optimizer-state bytes for tensors of these shapes (8-bit where quantized, `Scalar` otherwise).
    public func stateByteCount(shapes: [[Int]]) -> Int {
        shapes.reduce(0) { acc, s in
            let n = s.reduce(1, *)
            return acc + (quantizes(count: n) ? 2 * n + 8 * ((n + blockSize - 1) / blockSize) : 2 * n * MemoryLayout<Scalar>.size)
        }
    }

    public func prepare(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        let k = context.tensorStep
        let b1 = beta1 * (beta1Decay?.factor(atStep: context.globalStep) ?? 1)
        state.beta1 = Scalar(b1)
        let c2 = ScalarMath.sqrt(1 - ScalarMath.pow(beta2, k))
        state.correction2 = Scalar(c2)
        state.inverseCorrection2 = Scalar(1 / c2)
        context.outputScale = 1 / (1 - ScalarMath.pow(b1, k))
        return nil
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        switch state.moments {
        case .full(let mb, let vb):
            // g, m, v, out: (n); bitsandbytes' float path: denom = √v/c2 + ε.
            let m = mb.base + block.offset, v = vb.base + block.offset
            let b1 = state.beta1, c1 = 1 - b1, b2 = Scalar(beta2), c2 = 1 - b2
            let corr = state.correction2, eps = Scalar(epsilon)
            for i in 0..<block.count {
                let g = input[i]
                let mi = b1 * m[i] + c1 * g
                let vi = b2 * v[i] + c2 * g * g
                m[i] = mi; v[i] = vi
                output[i] = mi / (Scalar.squareRoot(of: vi) / corr + eps)
            }
        case .quantized(let q):
            if usesFastKernel {
                applyQuantized(q, state, input: input, output: output, update: nil, block: block)
            } else {
                applyQuantizedReference(q, state, input: input, output: output, block: block)
            }
        }
        return 0
    }

    public var fusesParameterUpdate: Bool { true }
    /// The fast kernel reads `update.inputScale · g` in its own loop (Stable-SPAM 8-bit: AdaGN's factor), so no
    /// scaling pass runs before it; the other paths scale into the scratch first (the same products).
    public var fusesInputScale: Bool { true }

    /// `apply`, then `θ ← (a·θ + c·u)·b` in the same loop over each quantization block (the update never goes
    /// through memory); bit-identical to `apply` followed by `Kernels.applyUpdate`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func applyUpdating(_ state: State, input: UnsafePointer<Scalar>, weights: UnsafePointer<Scalar>?,
                              update: ParameterUpdate<Scalar>, block: BlockContext<Scalar>) -> Int {
        if weights == nil, case .quantized(let q) = state.moments, usesFastKernel {
            applyQuantized(q, state, input: input, output: nil, update: update, block: block)
            return 0
        }
        let u = update.scratch
        var x = input
        if update.inputScale != 1 {  // elementwise, so `apply` may then read and write the scratch in place
            Kernels.scale(input, by: update.inputScale, into: u, count: block.count)
            x = UnsafePointer(u)
        }
        let e = apply(state, input: x, output: u, block: block)
        if let w = weights { Kernels.multiply(u, by: w, count: block.count) }
        Kernels.applyUpdate(update.parameters, update: u, scale: update.scale, preFactor: update.preFactor,
                            postFactor: update.postFactor, count: block.count)
        return e
    }

    /// Whether both dynamic maps take the encoder's direct path (always, for the bitsandbytes maps).
    static var hasDirectEncoders: Bool {
        Blockwise8bitMoments.signed.hasDirectPath && Blockwise8bitMoments.unsigned.hasDirectPath
    }

    /// Whether the fast float32 kernel (`Blockwise8bitMoments.adamStep`) runs: float32 optimizers; float64
    /// (golden tests) and `usesReferenceKernel` take `applyQuantizedReference`. The kernel is concrete, not
    /// generic: a generic kernel was left unspecialised behind the type-erased transform slots and ran its
    /// `Float(g)` conversions through the generic `BinaryFloatingPoint` path (~40 ns per element).
    var usesFastKernel: Bool { Scalar.self == Float.self && !usesReferenceKernel && Self.hasDirectEncoders }

    /// The fast kernel on one optimizer block: `output` receives the update, or `update` is applied to `θ`.
    @inline(__always)
    func applyQuantized(_ q: Blockwise8bitMoments, _ state: State, input: UnsafePointer<Scalar>,
                        output: UnsafeMutablePointer<Scalar>?, update: ParameterUpdate<Scalar>?, block: BlockContext<Scalar>) {
        // Scalar == Float here (usesFastKernel)
        let g = UnsafeRawPointer(input).assumingMemoryBound(to: Float.self)
        let out = output.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) }
        let theta = update.map { UnsafeMutableRawPointer($0.parameters).assumingMemoryBound(to: Float.self) }
        func float(_ x: Scalar?) -> Float { x.map { Float($0) } ?? 1 }
        q.adamStep(offset: block.offset, count: block.count, gradient: g, beta1: Float(state.beta1), beta2: Float(beta2),
                   inverseCorrection2: Float(state.inverseCorrection2), epsilon: Float(epsilon), output: out, parameters: theta,
                   preFactor: float(update?.preFactor), scale: float(update?.scale), postFactor: float(update?.postFactor),
                   inputScale: float(update?.inputScale))
    }

    /// The plain kernel the fast one replaced (scalar gathers fused with the moments, midpoint encoder):
    /// the oracle of `applyQuantized` in tests (`usesReferenceKernel`).
    @inline(never)
    func applyQuantizedReference(_ q: Blockwise8bitMoments, _ state: State, input: UnsafePointer<Scalar>,
                                 output: UnsafeMutablePointer<Scalar>, block: BlockContext<Scalar>) {
        let se = Blockwise8bitMoments.signed, ue = Blockwise8bitMoments.unsigned
        let b1 = Float(state.beta1), c1 = 1 - b1, b2 = Float(beta2), c2 = 1 - b2
        let rcorr = Float(state.inverseCorrection2), eps = Float(epsilon)
        let qbs = blockSize
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * qbs) { tmp in
            let tm = tmp.baseAddress!, tv = tm + qbs, tu = tv + qbs
            let sv = se.codebook.values, uv = ue.codebook.values
            var start = 0
            while start < block.count {
                let len = Swift.min(qbs, block.count - start)
                let e = block.offset + start, b = e / qbs
                let cm = q.codesM + e, cv = q.codesV + e
                let am = q.absmaxM[b], av = q.absmaxV[b]
                var mxb: UInt32 = 0, vxb: UInt32 = 0
                for i in 0..<len {
                    let gi = Float(input[start + i])
                    tm[i] = b1 * (sv[Int(cm[i])] * am) + c1 * gi
                    tv[i] = b2 * (uv[Int(cv[i])] * av) + c2 * gi * gi
                    mxb = Swift.max(mxb, tm[i].bitPattern & 0x7FFF_FFFF)
                    vxb = Swift.max(vxb, tv[i].bitPattern & 0x7FFF_FFFF)
                    tu[i] = tm[i] / (gradus_sqrtf(tv[i]) * rcorr + eps)
                    output[start + i] = Scalar(tu[i])
                }
                let mx = Float(bitPattern: mxb), vx = Float(bitPattern: vxb)
                q.absmaxM[b] = mx; q.absmaxV[b] = vx
                if mx > 0 { se.encodeByMidpoints(tm, count: len, inverseScale: 1 / mx, into: cm) }
                else { cm.update(repeating: se.codebook.zeroCode, count: len) }
                if vx > 0 { ue.encodeByMidpoints(tv, count: len, inverseScale: 1 / vx, into: cv) }
                else { cv.update(repeating: ue.codebook.zeroCode, count: len) }
                start += len
            }
        }
    }

    public func reset(_ state: State, block: BlockContext<Scalar>) {
        switch state.moments {
        case .quantized(let q): q.reset(elements: block.offset ..< block.offset + block.count)
        case .full(let m, let v):
            (m.base + block.offset).update(repeating: 0, count: block.count)
            (v.base + block.offset).update(repeating: 0, count: block.count)
        }
    }

}
