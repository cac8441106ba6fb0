import GradusQuant
import _GradusShims

extension Blockwise8bitMoments {
    /// One 8-bit Adam step (bitsandbytes `Adam8bit`, spec §4.3) on elements `offset ..< offset + count`
    /// (`offset` a multiple of `blockSize`), float32 and concrete so that it vectorises. Per quantization
    /// block (256 elements, in L1):
    /// 1. one loop over 4 lanes: gather the code values straight into vector lanes (the only scalar loads),
    ///    `m = β1·(value·absmax) + (1−β1)g`, `v = β2·(value·absmax) + (1−β2)g²` (stored for step 2), the running
    ///    max of `|m|`, `|v|` (maxps; a NaN is flagged and the block's max is then taken over the bit patterns,
    ///    where NaN orders above ∞, as the reference does), and `u = m/(√v·(1/c2) + ε)` into `output`, or with
    ///    `parameters` `θ ← (a·θ + c·u)·b` (the branches and arithmetic of `Kernels.applyUpdate`);
    /// 2. requantize both moments with the folded direct encoder (`encodeFolded`: vector keys, table entries
    ///    loaded into vector lanes, vector finish).
    /// The same arithmetic, in the same order, as `AdamPreconditioner8bit.applyQuantizedReference` (bit-identical;
    /// tested).
    ///
    /// Dispatch: on a CPU with AVX2 and FMA the whole step runs in the C kernel `gradus__adam8bit_step_f32_avx2`
    /// (8 lanes, bit-identical to this loop; `AdamStepKernel.float32`, so `GRADUS_NO_AVX2=1` forces this loop).
    /// The gradient is read as `s·g` (`inputScale`, a pending factor such as AdaGN's; exact when 1).
    // g, output, θ: (count); codes: (self.count), absmax: (blockCount)
    public func adamStep(offset: Int, count: Int, gradient g: UnsafePointer<Float>, beta1 b1: Float, beta2 b2: Float,
                         inverseCorrection2 rcorr: Float, epsilon eps: Float, output: UnsafeMutablePointer<Float>?,
                         parameters theta: UnsafeMutablePointer<Float>?, preFactor a: Float, scale c: Float, postFactor pb: Float,
                         inputScale s: Float = 1) {
        adamStep(offset: offset, count: count, gradient: g, beta1: b1, beta2: b2, inverseCorrection2: rcorr, epsilon: eps,
                 output: output, parameters: theta, preFactor: a, scale: c, postFactor: pb, inputScale: s,
                 kernel: AdamStepKernel.float32)
    }

    /// `adamStep` with the kernel chosen by the caller (tests run both): `.avx2` requires
    /// `AdamStepKernel.isAVX2Available`; blocks larger than 2048 elements always take the Swift loop.
    func adamStep(offset: Int, count: Int, gradient g: UnsafePointer<Float>, beta1 b1: Float, beta2 b2: Float,
                  inverseCorrection2 rcorr: Float, epsilon eps: Float, output: UnsafeMutablePointer<Float>?,
                  parameters theta: UnsafeMutablePointer<Float>?, preFactor a: Float, scale c: Float, postFactor pb: Float,
                  inputScale s: Float = 1, kernel: AdamStepKernel) {
        guard let dst = theta ?? output else { return }
        if kernel == .avx2 && blockSize <= 2048 {
            let tables = Self.kernelTables
            var args = gradus__adam8bit_step_f32_args(
                codes_m: codesM + offset, codes_v: codesV + offset, absmax_m: absmaxM + offset / blockSize,
                absmax_v: absmaxV + offset / blockSize, values_m: tables.valuesM, values_v: tables.valuesV,
                folded_m: tables.foldedM, folded_v: tables.foldedV, gradient: g, output: output, parameters: theta,
                count: Int64(count), block_size: Int64(blockSize), beta1: b1, one_minus_beta1: 1 - b1, beta2: b2,
                one_minus_beta2: 1 - b2, inverse_correction2: rcorr, epsilon: eps, pre_factor: a, scale: c, post_factor: pb, input_scale: s,
                zero_code_m: tables.zeroCodeM, zero_code_v: tables.zeroCodeV)
            gradus__adam8bit_step_f32_avx2(&args)
            return
        }
        let se = Self.signed, ue = Self.unsigned
        let c1 = 1 - b1, c2 = 1 - b2
        let qbs = blockSize
        // the update's form, hoisted out of the loops: 0 output u, 1 θ += c·u, 2 θ = θ·a + c·u, 3 θ = (θ·a + c·u)·b
        let form = theta == nil ? 0 : (a == 1 && pb == 1 ? 1 : (pb == 1 ? 2 : 3))
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * qbs) { tmp in
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: qbs) { itmp in
            let tm = tmp.baseAddress!, tv = tm + qbs, keys = itmp.baseAddress!
            se.codebook.values.withUnsafeBufferPointer { svb in
            ue.codebook.values.withUnsafeBufferPointer { uvb in
            se.foldedOffsets.withUnsafeBufferPointer { sob in
            ue.foldedOffsets.withUnsafeBufferPointer { uob in
                let sv = svb.baseAddress!, uv = uvb.baseAddress!, so = sob.baseAddress!, uo = uob.baseAddress!
                var start = 0
                while start < count {
                    let len = Swift.min(qbs, count - start)
                    let e = offset + start, b = e / qbs
                    let cm = codesM + e, cv = codesV + e
                    let am = absmaxM[b], av = absmaxV[b]
                    let gs = g + start, t = dst + start
                    let n4 = len & ~3
                    var mx4 = SIMD4<Float>(), vx4 = SIMD4<Float>(), nan4 = SIMD4<Int32>()
                    let absMask = SIMD4<UInt32>(repeating: 0x7FFF_FFFF)
                    // m, v of lanes i ..< i+4; stores them and updates the running max
                    @inline(__always) func moments4(_ i: Int) -> (SIMD4<Float>, SIMD4<Float>) {
                        let dm = SIMD4<Float>(sv[Int(cm[i])], sv[Int(cm[i &+ 1])], sv[Int(cm[i &+ 2])], sv[Int(cm[i &+ 3])])
                        let dv = SIMD4<Float>(uv[Int(cv[i])], uv[Int(cv[i &+ 1])], uv[Int(cv[i &+ 2])], uv[Int(cv[i &+ 3])])
                        let gi = s * load4(gs + i)
                        let m = b1 * (dm * am) + c1 * gi
                        let v = b2 * (dv * av) + c2 * gi * gi
                        store4(m, tm + i); store4(v, tv + i)
                        let x = unsafeBitCast(unsafeBitCast(m, to: SIMD4<UInt32>.self) & absMask, to: SIMD4<Float>.self)
                        let y = unsafeBitCast(unsafeBitCast(v, to: SIMD4<UInt32>.self) & absMask, to: SIMD4<Float>.self)
                        mx4 = x.replacing(with: mx4, where: mx4 .> x)  // maxps into mx4 (no NaN here: flagged)
                        vx4 = y.replacing(with: vx4, where: vx4 .> y)
                        nan4 |= unsafeBitCast((m .!= m) .| (v .!= v), to: SIMD4<Int32>.self)
                        return (m, v)
                    }
                    @inline(__always) func u4(_ m: SIMD4<Float>, _ v: SIMD4<Float>) -> SIMD4<Float> { m / (sqrt4(v) * rcorr + eps) }
                    var i = 0
                    switch form {
                    case 0: while i < n4 { let (m, v) = moments4(i); store4(u4(m, v), t + i); i &+= 4 }
                    case 1: while i < n4 { let (m, v) = moments4(i); store4(load4(t + i) + c * u4(m, v), t + i); i &+= 4 }
                    case 2: while i < n4 { let (m, v) = moments4(i); store4(load4(t + i) * a + c * u4(m, v), t + i); i &+= 4 }
                    default: while i < n4 { let (m, v) = moments4(i); store4((load4(t + i) * a + c * u4(m, v)) * pb, t + i); i &+= 4 }
                    }
                    // absmax as the max of the |x| bit patterns (same order as the magnitudes)
                    var mxb: UInt32 = 0, vxb: UInt32 = 0
                    if nan4 == SIMD4<Int32>() {
                        for j in 0..<4 { mxb = Swift.max(mxb, mx4[j].bitPattern); vxb = Swift.max(vxb, vx4[j].bitPattern) }
                    } else {
                        for j in 0..<n4 {
                            mxb = Swift.max(mxb, tm[j].bitPattern & 0x7FFF_FFFF); vxb = Swift.max(vxb, tv[j].bitPattern & 0x7FFF_FFFF)
                        }
                    }
                    while i < len {  // the last (partial) block's tail
                        let gi = s * gs[i]
                        let m = b1 * (sv[Int(cm[i])] * am) + c1 * gi
                        let v = b2 * (uv[Int(cv[i])] * av) + c2 * gi * gi
                        tm[i] = m; tv[i] = v
                        mxb = Swift.max(mxb, m.bitPattern & 0x7FFF_FFFF); vxb = Swift.max(vxb, v.bitPattern & 0x7FFF_FFFF)
                        let u = m / (gradus_sqrtf(v) * rcorr + eps)
                        switch form {
                        case 0: t[i] = u
                        case 1: t[i] += c * u
                        case 2: t[i] = t[i] * a + c * u
                        default: t[i] = (t[i] * a + c * u) * pb
                        }
                        i &+= 1
                    }
                    let mx = Float(bitPattern: mxb), vx = Float(bitPattern: vxb)
                    absmaxM[b] = mx; absmaxV[b] = vx
                    if mx > 0 {
                        Self.encodeFolded(tm, count: len, inverseScale: 1 / mx, into: cm, table: so, keys: keys)
                    } else {
                        cm.update(repeating: se.codebook.zeroCode, count: len)
                    }
                    if vx > 0 {
                        Self.encodeFolded(tv, count: len, inverseScale: 1 / vx, into: cv, table: uo, keys: keys)
                    } else {
                        cv.update(repeating: ue.codebook.zeroCode, count: len)
                    }
                    start += len
                }
            }}}}
        }}
    }

    /// The C kernel's tables: both maps' values and folded encoder tables, copied once per process (immutable).
    struct KernelTables: @unchecked Sendable {
        let valuesM: UnsafePointer<Float>, valuesV: UnsafePointer<Float>
        let foldedM: UnsafePointer<UInt32>, foldedV: UnsafePointer<UInt32>
        let zeroCodeM: UInt8, zeroCodeV: UInt8
    }

    static let kernelTables: KernelTables = {
        func copy<T>(_ a: [T]) -> UnsafePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: a.count)
            p.initialize(from: a, count: a.count)
            return UnsafePointer(p)
        }
        let se = signed, ue = unsigned
        return KernelTables(valuesM: copy(se.codebook.values), valuesV: copy(ue.codebook.values),
                            foldedM: copy(se.foldedOffsets), foldedV: copy(ue.foldedOffsets),
                            zeroCodeM: se.codebook.zeroCode, zeroCodeV: ue.codebook.zeroCode)
    }()

    /// Codes of `n` values `x[i]·inv` by the folded direct path (`FastCodebookEncoder.foldedOffsets`), 16 lanes at
    /// a time: keys `b >> 14` (vector, through `keys`), then the table entries loaded straight into vector lanes
    /// and `(F + (b ^ (b >>ₐ 31))) >> 14` (vector). Equals `FastCodebookEncoder.encodeDirect` for every input.
    // x, keys, codes: (n); table: (2¹⁸)
    @inline(__always)
    static func encodeFolded(_ x: UnsafePointer<Float>, count n: Int, inverseScale inv: Float, into codes: UnsafeMutablePointer<UInt8>,
                             table: UnsafePointer<UInt32>, keys: UnsafeMutablePointer<UInt32>) {
        let n16 = n & ~15
        var i = 0
        while i < n16 {
            let b = unsafeBitCast(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) * inv, to: SIMD16<UInt32>.self)
            UnsafeMutableRawPointer(keys + i).storeBytes(of: b &>> 14, as: SIMD16<UInt32>.self)
            i &+= 16
        }
        @inline(__always) func entries4(_ j: Int) -> SIMD4<UInt32> {
            SIMD4(table[Int(keys[j])], table[Int(keys[j &+ 1])], table[Int(keys[j &+ 2])], table[Int(keys[j &+ 3])])
        }
        i = 0
        while i < n16 {
            let b = unsafeBitCast(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) * inv, to: SIMD16<Int32>.self)
            let w = unsafeBitCast(b ^ (b &>> 31), to: SIMD16<UInt32>.self)
            let f = SIMD16(lowHalf: SIMD8(lowHalf: entries4(i), highHalf: entries4(i &+ 4)),
                           highHalf: SIMD8(lowHalf: entries4(i &+ 8), highHalf: entries4(i &+ 12)))
            UnsafeMutableRawPointer(codes + i).storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: (f &+ w) &>> 14), as: SIMD16<UInt8>.self)
            i &+= 16
        }
        while i < n {
            let b = (x[i] * inv).bitPattern
            let w = b ^ UInt32(bitPattern: Int32(bitPattern: b) &>> 31)
            codes[i] = UInt8(truncatingIfNeeded: (table[Int(b &>> 14)] &+ w) &>> 14)
            i &+= 1
        }
    }
}

@inline(__always) private func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

@inline(__always) private func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
}

/// Lane-wise `gradus_sqrtf` (LLVM turns the four calls into one sqrtps).
@inline(__always) private func sqrt4(_ v: SIMD4<Float>) -> SIMD4<Float> {
    SIMD4(gradus_sqrtf(v[0]), gradus_sqrtf(v[1]), gradus_sqrtf(v[2]), gradus_sqrtf(v[3]))
}
