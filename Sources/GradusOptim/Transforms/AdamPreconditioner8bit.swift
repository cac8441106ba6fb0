import GradusQuant
import GradusRuntime
import _GradusShims

/// Adam's preconditioner with both moments stored in 8 bits, blockwise (bitsandbytes `Adam8bit` on CPU,
/// spec `lowbit.md` §4.3). Per block of `blockSize` (256) elements, fused into the optimizer's blocks:
/// dequantize `m` (dynamic signed map) and `v` (dynamic unsigned map), `m ← β1'm + (1−β1')g`,
/// `v ← β2 v + (1−β2)g²`, output `m/(√v/√(1−β2^k) + ε)` with the step factor `1/(1−β1^k)` folded into the
/// update, then requantize both with a fresh absmax (nearest code, ties to the lower value).
///
/// Tensors with fewer than `minQuantizedSize` (4096) elements keep float32 moments, as bitsandbytes does.
/// `β1' = β1·s_t` when a `CosineDecayFactor` is given (Stable-SPAM). Resettable (momentum resets zero the
/// codes and absmax of each block).
///
/// Reference: Dettmers et al., "8-bit Optimizers via Block-wise Quantization"; bitsandbytes
/// `optim/optimizer.py` (`Optimizer8bit`), `backends/cpu/ops.py`.
public struct AdamPreconditioner8bit<Scalar: OptimizerScalar>: ResettableTransform {
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
        var correction2: Scalar = 1

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
        state.correction2 = Scalar(ScalarMath.sqrt(1 - ScalarMath.pow(beta2, k)))
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
            applyQuantized(q, state, input: input, output: output, block: block)
        }
        return 0
    }

    @inline(__always)
    func applyQuantized(_ q: Blockwise8bitMoments, _ state: State, input: UnsafePointer<Scalar>,
                        output: UnsafeMutablePointer<Scalar>, block: BlockContext<Scalar>) {
        let se = Blockwise8bitMoments.signed, ue = Blockwise8bitMoments.unsigned
        let b1 = Float(state.beta1), c1 = 1 - b1, b2 = Float(beta2), c2 = 1 - b2
        let corr = Float(state.correction2), eps = Float(epsilon)
        let qbs = blockSize
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * qbs) { tmp in
            let tm = tmp.baseAddress!, tv = tm + qbs, tu = tv + qbs
            se.codebook.values.withUnsafeBufferPointer { svb in
            ue.codebook.values.withUnsafeBufferPointer { uvb in
            se.table.withUnsafeBufferPointer { st in
            ue.table.withUnsafeBufferPointer { ut in
            se.midpoints.withUnsafeBufferPointer { smid in
            ue.midpoints.withUnsafeBufferPointer { umid in
            se.codebook.sortedCodes.withUnsafeBufferPointer { ssc in
            ue.codebook.sortedCodes.withUnsafeBufferPointer { usc in
                let sv = svb.baseAddress!, uv = uvb.baseAddress!
                var start = 0
                while start < block.count {
                    // one quantization block: elements e ..< e + len of the tensor (block.offset is a multiple of qbs)
                    let len = Swift.min(qbs, block.count - start)
                    let e = block.offset + start, b = e / qbs
                    let cm = q.codesM + e, cv = q.codesV + e
                    let am = q.absmaxM[b], av = q.absmaxV[b]
                    let g = input + start, out = output + start
                    // 1. dequantize and update the moments (table lookups, scalar)
                    for i in 0..<len {
                        let gi = Float(g[i])
                        tm[i] = b1 * (sv[Int(cm[i])] * am) + c1 * gi
                        tv[i] = b2 * (uv[Int(cv[i])] * av) + c2 * gi * gi
                    }
                    // 2. new absmax (as integer max of |x| bit patterns, which orders like the magnitudes and
                    //    vectorises) and the update m/(√v/c2 + ε); plain loops the compiler vectorises
                    let direct = Scalar.self == Float.self
                    let u = direct ? UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self) : tu
                    var mxb: UInt32 = 0, vxb: UInt32 = 0
                    var i = 0
                    while i < len {
                        let x = tm[i].bitPattern & 0x7FFF_FFFF, y = tv[i].bitPattern & 0x7FFF_FFFF
                        mxb = x > mxb ? x : mxb
                        vxb = y > vxb ? y : vxb
                        i &+= 1
                    }
                    i = 0
                    while i < len {
                        u[i] = tm[i] / (gradus_sqrtf(tv[i]) / corr + eps)
                        i &+= 1
                    }
                    let mx = Float(bitPattern: mxb), vx = Float(bitPattern: vxb)
                    if !direct { for j in 0..<len { out[j] = Scalar(tu[j]) } }
                    q.absmaxM[b] = mx; q.absmaxV[b] = vx
                    if mx > 0 {
                        FastCodebookEncoder.encode(tm, count: len, inverseScale: 1 / mx, into: cm, table: st.baseAddress!,
                                                   midpoints: smid.baseAddress!, sortedCodes: ssc.baseAddress!, steps: se.steps)
                    } else {
                        cm.update(repeating: se.codebook.zeroCode, count: len)
                    }
                    if vx > 0 {
                        FastCodebookEncoder.encode(tv, count: len, inverseScale: 1 / vx, into: cv, table: ut.baseAddress!,
                                                   midpoints: umid.baseAddress!, sortedCodes: usc.baseAddress!, steps: ue.steps)
                    } else {
                        cv.update(repeating: ue.codebook.zeroCode, count: len)
                    }
                    start += len
                }
            }}}}}}}}
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

    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool {
        switch hyperparameter {
        case .beta1: beta1 = value
        case .beta2: beta2 = value
        case .epsilon: epsilon = value
        default: return false
        }
        return true
    }

    public func value(of hyperparameter: Hyperparameter) -> Double? {
        switch hyperparameter {
        case .beta1: return beta1
        case .beta2: return beta2
        case .epsilon: return epsilon
        default: return nil
        }
    }
}
