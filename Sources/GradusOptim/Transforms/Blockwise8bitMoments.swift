import GradusQuant
import GradusRuntime
import _GradusShims

/// Nearest-code encoder for a sorted codebook without a binary search: a table indexed by the top bits of
/// the float32 pattern (sign, exponent, 9 mantissa bits) gives the rank of the nearest value for the
/// bucket's lowest number; `steps` branch-free comparisons with the midpoints (computed when the table is
/// built: the most midpoints any bucket holds — 1 for the dynamic maps) finish it. Exactly
/// `Codebook.encode` (ties → lower value) for every finite input in [−1, 1]: `s > mid` in double precision
/// is evaluated as `s ≥ midUp` in float32, `midUp` being the smallest float above the midpoint.
public struct FastCodebookEncoder: Sendable {
    public let codebook: Codebook
    /// Rank (0 ..< sorted count) of the nearest value for the lowest number of each bucket.
    let table: [UInt8]
    /// Smallest float32 above each midpoint, padded with +∞ so refinement never runs past the end.
    let midpoints: [Float]
    /// Refinement comparisons needed.
    public let steps: Int
    /// `values[sortedCodes[k]]`: the k-th smallest value, and its code.
    let sortedValues: [Float]

    static let shift: UInt32 = 14
    /// Buckets of |x| ≤ 1 (0x3F80_0000 >> 14 = 0xFE00) per sign.
    static let bucketsPerSign = 0xFE01

    @inline(__always) static func key(_ bits: UInt32) -> Int {
        let mag = Int((bits & 0x7FFF_FFFF) >> shift)
        let k = mag < bucketsPerSign ? mag : bucketsPerSign - 1  // |x| > 1 or NaN: clamp (inputs are clamped)
        return bits >> 31 == 0 ? k : k &+ bucketsPerSign
    }

    public init(_ codebook: Codebook) {
        self.codebook = codebook
        let mid = codebook.midpoints
        func rank(_ x: Double) -> Int {  // number of midpoints strictly below x
            var lo = 0, n = mid.count
            while n > 0 { let h = n >> 1; if mid[lo + h] < x { lo += h + 1; n -= h + 1 } else { n = h } }
            return lo
        }
        var table = [UInt8](repeating: 0, count: 2 * Self.bucketsPerSign)
        var steps = 0
        for sign in 0..<2 {
            for b in 0..<Self.bucketsPerSign {
                let lowBits = UInt32(b) << Self.shift, highBits = lowBits | ((1 << Self.shift) - 1)
                var lo = Double(Float(bitPattern: lowBits)), hi = Double(Float(bitPattern: highBits))
                if sign == 1 { (lo, hi) = (-hi, -lo) }
                if !lo.isFinite { lo = -1 }
                if !hi.isFinite { hi = 1 }
                lo = Swift.max(-1, Swift.min(1, lo)); hi = Swift.max(-1, Swift.min(1, hi))
                let r0 = rank(lo), r1 = rank(hi)
                table[sign * Self.bucketsPerSign + b] = UInt8(r0)
                steps = Swift.max(steps, r1 - r0)
            }
        }
        self.table = table
        self.steps = steps
        self.midpoints = mid.map { m -> Float in let f = Float(m); return Double(f) > m ? f : f.nextUp }
            + Array(repeating: .infinity, count: steps + 1)
        self.sortedValues = codebook.sortedCodes.map { codebook.values[Int($0)] }
    }

    /// Encodes `count` values `x[i]·inverseScale` (clamped to [−1, 1]) into codes.
    public func encode(_ x: UnsafePointer<Float>, count: Int, inverseScale: Float, into codes: UnsafeMutablePointer<UInt8>) {
        table.withUnsafeBufferPointer { t in
            midpoints.withUnsafeBufferPointer { m in
                codebook.sortedCodes.withUnsafeBufferPointer { sc in
                    Self.encode(x, count: count, inverseScale: inverseScale, into: codes, table: t.baseAddress!,
                                midpoints: m.baseAddress!, sortedCodes: sc.baseAddress!, steps: steps)
                }
            }
        }
    }

    @inline(__always)
    static func encode(_ x: UnsafePointer<Float>, count n: Int, inverseScale inv: Float, into codes: UnsafeMutablePointer<UInt8>,
                       table: UnsafePointer<UInt8>, midpoints: UnsafePointer<Float>, sortedCodes: UnsafePointer<UInt8>,
                       steps: Int) {
        var i = 0
        if steps == 1 {
            // the dynamic maps: one comparison per element (short dependency chain)
            while i < n {
                var s = x[i] * inv
                s = s < -1 ? -1 : (s > 1 ? 1 : s)
                var k = Int(table[key(s.bitPattern)])
                k &+= s >= midpoints[k] ? 1 : 0
                codes[i] = sortedCodes[k]
                i &+= 1
            }
            return
        }
        while i < n {
            var s = x[i] * inv
            s = s < -1 ? -1 : (s > 1 ? 1 : s)
            var k = Int(table[key(s.bitPattern)])
            var j = 0
            while j < steps { k &+= s >= midpoints[k] ? 1 : 0; j &+= 1 }
            codes[i] = sortedCodes[k]
            i &+= 1
        }
    }
}

/// Adam's two moments in 8 bits (bitsandbytes `Optimizer8bit`, spec §4.3): one code per element —
/// `m` on the dynamic signed map, `v` on the dynamic unsigned map — and a float32 absmax per block of
/// `blockSize` (256) elements. A reference type so that parallel workers update disjoint blocks.
/// Fresh moments have absmax 0 and dequantize to 0.
public final class Blockwise8bitMoments: @unchecked Sendable {
    public let count: Int
    public let blockSize: Int
    public let blockCount: Int
    public let codesM: UnsafeMutablePointer<UInt8>
    public let codesV: UnsafeMutablePointer<UInt8>
    public let absmaxM: UnsafeMutablePointer<Float>
    public let absmaxV: UnsafeMutablePointer<Float>

    /// The encoders of the two maps (tables built once per process).
    static let signed = FastCodebookEncoder(.dynamicSigned)
    static let unsigned = FastCodebookEncoder(.dynamicUnsigned)

    public init(count: Int, blockSize: Int) {
        self.count = count
        self.blockSize = blockSize
        blockCount = (count + blockSize - 1) / blockSize
        codesM = .allocate(capacity: Swift.max(count, 1))
        codesV = .allocate(capacity: Swift.max(count, 1))
        absmaxM = .allocate(capacity: Swift.max(blockCount, 1))
        absmaxV = .allocate(capacity: Swift.max(blockCount, 1))
        reset(elements: 0..<count)
    }

    deinit { codesM.deallocate(); codesV.deallocate(); absmaxM.deallocate(); absmaxV.deallocate() }

    /// Bytes held: two codes per element plus two float32 absmax per block.
    public var byteCount: Int { 2 * count + 8 * blockCount }

    /// Zeroes the moments of whole blocks covering `elements` (which start on a block boundary).
    public func reset(elements r: Range<Int>) {
        guard !r.isEmpty else { return }
        (codesM + r.lowerBound).update(repeating: Self.signed.codebook.zeroCode, count: r.count)
        (codesV + r.lowerBound).update(repeating: Self.unsigned.codebook.zeroCode, count: r.count)
        let b0 = r.lowerBound / blockSize, b1 = (r.upperBound + blockSize - 1) / blockSize
        (absmaxM + b0).update(repeating: 0, count: b1 - b0)
        (absmaxV + b0).update(repeating: 0, count: b1 - b0)
    }

    /// Dequantized moments (for tests, serialization and diagnostics).
    public func dequantized() -> (m: [Float], v: [Float]) {
        var m = [Float](repeating: 0, count: count), v = m
        let sv = Codebook.dynamicSigned.values, uv = Codebook.dynamicUnsigned.values
        for i in 0..<count {
            let b = i / blockSize
            m[i] = sv[Int(codesM[i])] * absmaxM[b]
            v[i] = uv[Int(codesV[i])] * absmaxV[b]
        }
        return (m, v)
    }
}
