import GradusRuntime
import GradusTensor

/// Real 4-bit weight storage for inference: codes packed two per byte (first element in the high
/// nibble, bitsandbytes layout) with one float32 scale (and, for asymmetric INT4, one zero point) per
/// group of `groupSize` consecutive elements of a row.
///
/// Formats and scale rules:
/// - `.int4Symmetric`: spec §1 (`scale = max(absmax, 1e-6)/7`, `q ∈ [−7, 7]`, stored as `q + 8`);
/// - `.int4Asymmetric`: spec §1 Stable-SPAM rule (`q ∈ [0, 15]`, per-group zero point);
/// - `.nf4`, `.bnbFP4`: bitsandbytes codebooks with an absmax scale (spec §3.3);
/// - `.e2m1`: E2M1 elements with `scale = absmax/6` (spec §3.2).
///
/// Dequantization builds a 16-entry table per group, so decode is one lookup per element.
public struct Packed4BitWeight: Sendable {
    public enum Format: Sendable, Equatable { case int4Symmetric, int4Asymmetric, nf4, bnbFP4, e2m1 }

    public let rows: Int
    public let cols: Int
    public let groupSize: Int
    public let format: Format
    /// `rows·cols/2` bytes.
    public private(set) var packed: [UInt8]
    /// One scale per group (`rows·cols/groupSize`).
    public private(set) var scales: [Float]
    /// One zero point per group (asymmetric INT4 only; empty otherwise).
    public private(set) var zeroPoints: [UInt8]

    /// Quantizes a row-major `(rows, cols)` float32 weight.
    ///
    /// - Throws: `invalidArgument` unless `groupSize` is even, positive and divides `cols`.
    public init(quantizing w: UnsafePointer<Float>, rows: Int, cols: Int, groupSize: Int = 64,
                format: Format = .int4Symmetric) throws(GradusError) {
        guard rows > 0, cols > 0 else { throw .invalidArgument("Packed4BitWeight: empty shape (\(rows), \(cols))") }
        guard groupSize > 0, groupSize % 2 == 0, cols % groupSize == 0 else {
            throw .invalidArgument("Packed4BitWeight: group size \(groupSize) must be even and divide cols (\(cols))")
        }
        let (n, o) = rows.multipliedReportingOverflow(by: cols)
        guard !o else { throw .invalidArgument("Packed4BitWeight: shape overflows") }
        self.rows = rows; self.cols = cols; self.groupSize = groupSize; self.format = format
        let groups = n / groupSize
        var codes = [UInt8](repeating: 0, count: n)
        var scales = [Float](repeating: 0, count: groups)
        var zeros = [UInt8]()
        let layout = QuantLayout.groups(count: n, size: groupSize)
        switch format {
        case .int4Symmetric, .int4Asymmetric:
            let sym = format == .int4Symmetric
            var q = [Int32](repeating: 0, count: n), zp = [Int32](repeating: 0, count: groups)
            IntQuantKernel.fakeQuantize(w, into: nil, codes: &q, scales: &scales, zeroPoints: &zp, layout: layout,
                                        bits: 4, symmetric: sym)
            for i in 0..<n { codes[i] = UInt8(truncatingIfNeeded: sym ? q[i] + 8 : q[i]) }
            if !sym { zeros = zp.map { UInt8(truncatingIfNeeded: $0) } }
        case .nf4, .bnbFP4:
            BlockwiseKernel.quantize(w, count: n, blockSize: groupSize, codebook: format == .nf4 ? .nf4 : .bnbFP4,
                                     codes: &codes, absmax: &scales)
        case .e2m1:
            FP4.absmaxFakeQuantize(w, into: nil, codes: &codes, scales: &scales, layout: layout)
        }
        var packed = [UInt8](repeating: 0, count: n / 2)
        BlockwiseKernel.pack4bit(codes, count: n, into: &packed)
        self.packed = packed; self.scales = scales; self.zeroPoints = zeros
    }

    /// Bytes held: packed codes + scales + zero points.
    public var byteCount: Int { packed.count + 4 * scales.count + zeroPoints.count }
    /// Bytes of the dense float32 weight, for comparison.
    public var denseByteCount: Int { 4 * rows * cols }

    /// The 16 unscaled code values of a group (`(c − zero)` for INT4, codebook values otherwise).
    @inline(__always)
    func fillTable(group g: Int, into lut: UnsafeMutablePointer<Float>) {
        let s = scales[g]
        switch format {
        case .int4Symmetric: for c in 0..<16 { lut[c] = Float(c - 8) * s }
        case .int4Asymmetric: let z = Int(zeroPoints[g]); for c in 0..<16 { lut[c] = Float(c - z) * s }
        case .nf4: for c in 0..<16 { lut[c] = Codebook.nf4.values[c] * s }
        case .bnbFP4: for c in 0..<16 { lut[c] = Codebook.bnbFP4.values[c] * s }
        case .e2m1: for c in 0..<16 { lut[c] = FP4.e2m1Value(UInt8(c)) * s }
        }
    }

    /// Decodes rows `r0..<r1` into `out` (row-major, `(r1 − r0)·cols` floats).
    public func dequantizeRows(_ r0: Int, _ r1: Int, into out: UnsafeMutablePointer<Float>) {
        let gpr = cols / groupSize
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { lutBuf in
            let lut = lutBuf.baseAddress!
            packed.withUnsafeBufferPointer { pb in
                for r in r0..<r1 {
                    for gi in 0..<gpr {
                        let g = r * gpr + gi
                        fillTable(group: g, into: lut)
                        let src = pb.baseAddress! + g * (groupSize / 2)
                        let dst = out + (r - r0) * cols + gi * groupSize
                        for j in 0..<(groupSize / 2) {
                            let b = Int(src[j])
                            dst[2 * j] = lut[b >> 4]
                            dst[2 * j + 1] = lut[b & 15]
                        }
                    }
                }
            }
        }
    }

    /// Decodes the whole weight into `out` (`rows·cols` floats).
    public func dequantize(into out: UnsafeMutablePointer<Float>) { dequantizeRows(0, rows, into: out) }

    /// `y = x·Ŵᵀ` (+ bias) decoding one weight row at a time: x: (batch, cols), y: (batch, rows).
    public func matmul(_ x: UnsafePointer<Float>, batch: Int, bias: UnsafePointer<Float>? = nil,
                       into y: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: cols) { rowBuf in
            let w = rowBuf.baseAddress!
            for r in 0..<rows {
                dequantizeRows(r, r + 1, into: w)
                let b0 = bias?[r] ?? 0
                for b in 0..<batch {
                    let xr = x + b * cols
                    // 8 partial sums so the strict-order FP reduction vectorises
                    var acc = SIMD8<Float>()
                    var i = 0
                    while i + 8 <= cols {
                        acc += UnsafeRawPointer(xr + i).loadUnaligned(as: SIMD8<Float>.self)
                            * UnsafeRawPointer(w + i).loadUnaligned(as: SIMD8<Float>.self)
                        i += 8
                    }
                    var sum = acc.sum()
                    while i < cols { sum += xr[i] * w[i]; i += 1 }
                    y[b * rows + r] = sum + b0
                }
            }
        }
    }
}
