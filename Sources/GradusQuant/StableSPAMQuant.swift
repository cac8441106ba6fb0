import GradusRuntime
import GradusTensor

/// Stable-SPAM's 4-bit training quantizers, as its code does them (TianjinYellow/StableSPAM, spec §2).
///
/// - weights (`QLinear`): asymmetric per group (`IntQuantKernel`, group 256 in the published run), STE;
/// - activations (`A8Linear`): symmetric per group of `g` along the last axis with the top-k |x| entries
///   of each group kept exactly: `α = max(max|rest|, 1e-6)`, `q = clamp(round(x·q_max/α), −2^(b−1), q_max)`,
///   `x̂ = q·α/q_max` (the published INT4 run uses the *weight* bits and group: 4 bits, group 256, top-2);
/// - "FP4" (`Qfp4Linear`, `fp4_fake_quantize` with e=1, m=2, b=1): top-k kept, the rest rounded to the
///   uniform 9-level grid `{−4…4}·α/4` (not E2M1), both for weights and activations, group 256.
public enum StableSPAMQuant {
    /// Marks the `k` largest-|x| entries of a group (descending; equal magnitudes: lower index first).
    @inlinable @inline(__always)
    static func selectTopK<T: TensorScalar>(_ p: UnsafePointer<T>, count g: Int, k: Int, into idx: UnsafeMutablePointer<Int>) {
        for r in 0..<k {
            var best = -1
            var bestA = -T.infinity
            for i in 0..<g {
                var taken = false
                for j in 0..<r where idx[j] == i { taken = true }
                if !taken, abs(p[i]) > bestA { bestA = abs(p[i]); best = i }
            }
            idx[r] = best
        }
    }

    @inlinable @inline(__always)
    static func isSelected(_ i: Int, _ idx: UnsafeMutablePointer<Int>, _ k: Int) -> Bool {
        for j in 0..<k where idx[j] == i { return true }
        return false
    }

    /// Activation quantizer with top-k outliers (Stable-SPAM `dummy_quant.py`).
    ///
    /// - Parameters:
    ///   - x: `count` elements; groups are `groupSize` consecutive elements (the last axis, row-major).
    ///   - out: dequantized values, outliers copied unchanged.
    ///   - codes: `q` per element (0 at outliers); `groupScales`: `α` per group; `topKIndex`: `k` in-group
    ///     indices per group, largest |x| first. Any may be nil.
    ///   - noise: `u ∈ [0, 1)` per element for stochastic rounding (`round(v + u − 0.5)`), nil = deterministic.
    /// Requires `count % groupSize == 0`, `0 ≤ topK < groupSize`, `2 ≤ bits ≤ 8` (checked by the throwing wrapper).
    @inlinable
    public static func activationQuantize<T: TensorScalar>(
        _ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>?, codes: UnsafeMutablePointer<Int32>?,
        groupScales: UnsafeMutablePointer<T>?, topKIndex: UnsafeMutablePointer<Int32>?,
        count n: Int, groupSize g: Int, bits: Int, topK k: Int, noise: UnsafePointer<T>? = nil
    ) {
        let qmax = T((1 << (bits - 1)) - 1)
        let qmin = -T(1 << (bits - 1))
        let magic = T._roundingMagic
        withUnsafeTemporaryAllocation(of: Int.self, capacity: Swift.max(k, 1)) { buf in
            let idx = buf.baseAddress!
            for grp in 0..<(n / g) {
                let s = grp * g
                let p = x + s
                selectTopK(p, count: g, k: k, into: idx)
                var m: T = 0
                for i in 0..<g where !isSelected(i, idx, k) { let a = abs(p[i]); m = a > m ? a : m }
                let alpha: T = m > 1e-6 ? m : 1e-6
                groupScales?[grp] = alpha
                for j in 0..<k { topKIndex?[grp * k + j] = Int32(idx[j]) }
                for i in 0..<g {
                    if isSelected(i, idx, k) {
                        out?[s + i] = p[i]; codes?[s + i] = 0
                        continue
                    }
                    var v = p[i] * qmax / alpha
                    if let noise { v += noise[s + i] - 0.5 }
                    v = v < qmin ? qmin : (v > qmax ? qmax : v)
                    let q = (v + magic) - magic
                    out?[s + i] = q * alpha / qmax
                    codes?[s + i] = quantCode(q)
                }
            }
        }
    }

    /// Stable-SPAM "FP4" simulation (`act_weight_fp4.py` `fp4_fake_quantize`, defaults e=1, m=2, b=1):
    /// per group top-k kept; `α = max(max|rest|, 1e-6)`; `i = round(clamp(x, −α, α)·4/α) ∈ [−4, 4]`;
    /// `x̂ = i·α/4`. Outliers are copied and get index 0.
    @inlinable
    public static func fp4SimQuantize<T: TensorScalar>(
        _ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>?, gridIndex: UnsafeMutablePointer<Int32>?,
        groupAlpha: UnsafeMutablePointer<T>?, count n: Int, groupSize g: Int, topK k: Int
    ) {
        let magic = T._roundingMagic
        withUnsafeTemporaryAllocation(of: Int.self, capacity: Swift.max(k, 1)) { buf in
            let idx = buf.baseAddress!
            for grp in 0..<(n / g) {
                let s = grp * g
                let p = x + s
                selectTopK(p, count: g, k: k, into: idx)
                var m: T = 0
                for i in 0..<g where !isSelected(i, idx, k) { let a = abs(p[i]); m = a > m ? a : m }
                let alpha: T = m > 1e-6 ? m : 1e-6
                groupAlpha?[grp] = alpha
                for i in 0..<g {
                    if isSelected(i, idx, k) { out?[s + i] = p[i]; gridIndex?[s + i] = 0; continue }
                    var v = p[i]
                    v = v < -alpha ? -alpha : (v > alpha ? alpha : v)
                    var q = (v * 4 / alpha + magic) - magic
                    q = q < -4 ? -4 : (q > 4 ? 4 : q)
                    out?[s + i] = q * alpha / 4
                    gridIndex?[s + i] = quantCode(q)
                }
            }
        }
    }

    /// Checks an activation / FP4-sim configuration.
    public static func validate(count: Int, groupSize: Int, bits: Int = 4, topK: Int) throws(GradusError) {
        guard groupSize > 0, count % groupSize == 0 else {
            throw .invalidArgument("StableSPAM quant: group size \(groupSize) does not divide the element count \(count)")
        }
        guard bits >= 2 && bits <= 8 else { throw .invalidArgument("StableSPAM quant: unsupported bit width \(bits) (use 2...8)") }
        guard topK >= 0 && topK < groupSize else {
            throw .invalidArgument("StableSPAM quant: topK \(topK) must be in 0..<groupSize (\(groupSize))")
        }
    }
}

/// Forward and backward math of Stable-SPAM's quantized linear layer (`A8Linear` autograd function,
/// spec §2.2) on already-quantized operands. Plain reference loops; shapes in comments.
public enum QuantLinearKernel {
    /// `y = x̂·Ŵᵀ + b`. x̂: (B, I), Ŵ: (O, I), bias: (O) or nil, y: (B, O).
    @inlinable
    public static func forward<T: TensorScalar>(xq: UnsafePointer<T>, wq: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                                y: UnsafeMutablePointer<T>, batch: Int, inFeatures: Int, outFeatures: Int) {
        for b in 0..<batch {
            for o in 0..<outFeatures {
                var acc: T = bias?[o] ?? 0
                let xr = xq + b * inFeatures, wr = wq + o * inFeatures
                for i in 0..<inFeatures { acc += xr[i] * wr[i] }
                y[b * outFeatures + o] = acc
            }
        }
    }

    /// `∂x = G·Ŵ` (B, I); `∂W = Gᵀ·x̂` (O, I), reaching the latent weight through the STE; `∂b = Σ_b G` (O).
    /// G: (B, O). Outputs may be nil.
    @inlinable
    public static func backward<T: TensorScalar>(gradOutput g: UnsafePointer<T>, xq: UnsafePointer<T>, wq: UnsafePointer<T>,
                                                 gradX: UnsafeMutablePointer<T>?, gradW: UnsafeMutablePointer<T>?,
                                                 gradBias: UnsafeMutablePointer<T>?,
                                                 batch: Int, inFeatures: Int, outFeatures: Int) {
        if let gradX {
            for b in 0..<batch {
                for i in 0..<inFeatures {
                    var acc: T = 0
                    for o in 0..<outFeatures { acc += g[b * outFeatures + o] * wq[o * inFeatures + i] }
                    gradX[b * inFeatures + i] = acc
                }
            }
        }
        if let gradW {
            for o in 0..<outFeatures {
                for i in 0..<inFeatures {
                    var acc: T = 0
                    for b in 0..<batch { acc += g[b * outFeatures + o] * xq[b * inFeatures + i] }
                    gradW[o * inFeatures + i] = acc
                }
            }
        }
        if let gradBias {
            for o in 0..<outFeatures {
                var acc: T = 0
                for b in 0..<batch { acc += g[b * outFeatures + o] }
                gradBias[o] = acc
            }
        }
    }
}
