import GradusRuntime
import GradusTensor

/// A 4- or 8-bit codebook: `values[code]` in [−1, 1], used with a per-block absmax scale (bitsandbytes,
/// spec §3.3, §4). Encoding picks the **nearest** value; ties go to the lower value (decision points are
/// the midpoints of the sorted codebook). Equal values (bnb FP4's +0/−0) encode to the lowest code.
public struct Codebook: Sendable, Equatable {
    /// Code values, index = code.
    public let values: [Float]
    /// Sorted distinct values' codes (`sortedCodes[k]` encodes the k-th smallest value).
    public let sortedCodes: [UInt8]
    /// Decision points between consecutive sorted values (`sortedCodes.count − 1` entries).
    public let midpoints: [Double]
    /// Code of the value 0 (used for blocks whose absmax is 0).
    public let zeroCode: UInt8

    /// A custom codebook (2…256 finite values).
    public init(values: [Float]) throws(GradusError) {
        guard values.count >= 2 && values.count <= 256 else {
            throw .invalidArgument("Codebook: need 2...256 values (got \(values.count))")
        }
        guard values.allSatisfy({ $0.isFinite }) else { throw .invalidArgument("Codebook: values must be finite") }
        self.values = values
        // stable sort by value: equal values keep the lowest code first
        let order = values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
        var codes: [UInt8] = [], sorted: [Float] = []
        for i in order where sorted.last != values[i] { codes.append(UInt8(i)); sorted.append(values[i]) }
        sortedCodes = codes
        midpoints = (0..<(sorted.count - 1)).map { (Double(sorted[$0]) + Double(sorted[$0 + 1])) / 2 }
        var z = 0
        for (k, v) in sorted.enumerated() where abs(v) < abs(sorted[z]) { z = k }
        zeroCode = codes[z]
    }

    private init(uncheckedValues v: [Float]) { self = try! Codebook(values: v) }

    /// NF4 (QLoRA; bitsandbytes `get_4bit_type("nf4")`), ascending.
    public static let nf4 = Codebook(uncheckedValues: [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
        -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
        0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
        0.7229568362236023, 1.0,
    ])

    /// bitsandbytes "fp4" (`get_4bit_type("fp4")`): `[0, 0.0625, 8, 12, 4, 6, 2, 3]/12` and negatives
    /// (index = bit pattern, not monotone; smallest non-zero 1/192 — not E2M1).
    public static let bnbFP4: Codebook = {
        let raw: [Float] = [0, 0.0625, 8, 12, 4, 6, 2, 3]
        let pos = raw.map { $0 / Float(12) }
        return Codebook(uncheckedValues: pos + pos.map { -$0 })
    }()

    /// bitsandbytes dynamic ("dynamic tree") signed map, 256 ascending values in [−0.99297, 1].
    public static let dynamicSigned = Codebook(uncheckedValues: dynamicMap(signed: true))
    /// bitsandbytes dynamic unsigned map, 256 ascending values in [0, 1].
    public static let dynamicUnsigned = Codebook(uncheckedValues: dynamicMap(signed: false))

    /// bitsandbytes `create_dynamic_map(signed, max_exponent_bits = 7, total_bits = 8)`, reproduced in
    /// float32 arithmetic (torch `linspace` float32 evaluation with fused multiply-add, float32 means and scaling).
    public static func dynamicMap(signed: Bool) -> [Float] {
        var data: [Float] = []
        for i in 0..<7 {
            let items = signed ? (1 << i) + 1 : (1 << (i + 1)) + 1
            // torch.linspace(0.1, 1, items) in float32: front half from the start, back half from the end
            let start: Float = 0.1, end: Float = 1
            let step = (end - start) / Float(items - 1)
            let half = items / 2
            var bounds = [Float](repeating: 0, count: items)
            for k in 0..<items {
                // torch's kernel is compiled with FMA contraction: one rounding per boundary
                bounds[k] = k < half ? start.addingProduct(step, Float(k)) : end.addingProduct(-step, Float(items - 1 - k))
            }
            let scale = Float(pow10(i - 6))
            for k in 0..<(items - 1) {
                let mean = (bounds[k] + bounds[k + 1]) / 2
                data.append(scale * mean)
                if signed { data.append(-(scale * mean)) }
            }
        }
        data.append(0)
        data.append(1)
        while data.count < 256 { data.append(0) }
        data.sort()
        return data
    }

    private static func pow10(_ e: Int) -> Double {
        var r = 1.0
        if e >= 0 { for _ in 0..<e { r *= 10 } } else { for _ in 0..<(-e) { r *= 10 }; r = 1 / r }
        return r
    }

    /// Nearest code of a scaled value `s ∈ [−1, 1]` (binary search over the midpoints; a midpoint tie
    /// goes to the lower value).
    @inlinable @inline(__always)
    public static func encode(_ s: Double, midpoints mid: UnsafeBufferPointer<Double>,
                              sortedCodes: UnsafeBufferPointer<UInt8>) -> UInt8 {
        // first k with mid[k] >= s  ==  number of midpoints strictly below s
        var lo = 0, n = mid.count
        while n > 0 {
            let half = n >> 1
            if mid[lo &+ half] < s { lo = lo &+ half &+ 1; n = n &- half &- 1 } else { n = half }
        }
        return sortedCodes[lo]
    }

    /// Nearest code of one scaled value (convenience; kernels use the buffer form).
    public func encode(_ s: Double) -> UInt8 {
        midpoints.withUnsafeBufferPointer { m in
            sortedCodes.withUnsafeBufferPointer { c in Codebook.encode(s, midpoints: m, sortedCodes: c) }
        }
    }
}
