import GradusRuntime
import GradusTensor

/// bitsandbytes blockwise quantization over raw buffers (spec §3.3, §4.2).
///
/// Per block of `blockSize` consecutive elements (the last block may be partial):
/// `absmax_b = max|x|`, `s = clamp(x·(1/absmax_b), −1, 1)`, code = nearest codebook entry (ties → lower
/// value), dequant `value(code)·absmax_b`. Block sizes: `quantize_blockwise` 4096, optimizer states 256,
/// 4-bit weights 64. A block with absmax 0 stores the code of 0.
public enum BlockwiseKernel {
    /// Number of blocks for `count` elements.
    @inlinable public static func blockCount(count: Int, blockSize: Int) -> Int { (count + blockSize - 1) / blockSize }

    /// Quantizes one block of `len` elements; returns its absmax.
    @inlinable
    public static func quantizeBlock<T: TensorScalar>(
        _ x: UnsafePointer<T>, count len: Int, codes: UnsafeMutablePointer<UInt8>,
        midpoints: UnsafeBufferPointer<Double>, sortedCodes: UnsafeBufferPointer<UInt8>, zeroCode: UInt8
    ) -> T {
        var m: T = 0
        for i in 0..<len { let a = abs(x[i]); m = a > m ? a : m }
        if !(m > 0) {
            for i in 0..<len { codes[i] = zeroCode }
            return m
        }
        let inv = 1 / m
        for i in 0..<len {
            var s = x[i] * inv
            s = s < -1 ? -1 : (s > 1 ? 1 : s)
            codes[i] = Codebook.encode(Double(s), midpoints: midpoints, sortedCodes: sortedCodes)
        }
        return m
    }

    /// Dequantizes one block: `out[i] = value(codes[i])·absmax`.
    @inlinable
    public static func dequantizeBlock<T: TensorScalar>(
        codes: UnsafePointer<UInt8>, count len: Int, absmax: T, values: UnsafeBufferPointer<Float>,
        into out: UnsafeMutablePointer<T>
    ) {
        for i in 0..<len { out[i] = T(values[Int(codes[i])]) * absmax }
    }

    /// Quantizes `count` elements into `codes` (`count` bytes) and `absmax` (`blockCount` scales).
    @inlinable
    public static func quantize<T: TensorScalar>(
        _ x: UnsafePointer<T>, count n: Int, blockSize: Int, codebook: Codebook,
        codes: UnsafeMutablePointer<UInt8>, absmax: UnsafeMutablePointer<T>
    ) {
        codebook.midpoints.withUnsafeBufferPointer { mid in
            codebook.sortedCodes.withUnsafeBufferPointer { sc in
                var b = 0, k = 0
                while b < n {
                    let len = Swift.min(blockSize, n - b)
                    absmax[k] = quantizeBlock(x + b, count: len, codes: codes + b, midpoints: mid, sortedCodes: sc,
                                              zeroCode: codebook.zeroCode)
                    b += len; k += 1
                }
            }
        }
    }

    /// Dequantizes `count` elements.
    @inlinable
    public static func dequantize<T: TensorScalar>(
        codes: UnsafePointer<UInt8>, absmax: UnsafePointer<T>, count n: Int, blockSize: Int, codebook: Codebook,
        into out: UnsafeMutablePointer<T>
    ) {
        codebook.values.withUnsafeBufferPointer { vals in
            var b = 0, k = 0
            while b < n {
                let len = Swift.min(blockSize, n - b)
                dequantizeBlock(codes: codes + b, count: len, absmax: absmax[k], values: vals, into: out + b)
                b += len; k += 1
            }
        }
    }

    /// Packs 4-bit codes two per byte, first element in the high nibble (bitsandbytes layout); an odd
    /// count leaves the last low nibble 0. `packed` holds `(count + 1)/2` bytes.
    @inlinable
    public static func pack4bit(_ codes: UnsafePointer<UInt8>, count n: Int, into packed: UnsafeMutablePointer<UInt8>) {
        var j = 0
        while 2 * j + 1 < n { packed[j] = (codes[2 * j] & 15) << 4 | (codes[2 * j + 1] & 15); j += 1 }
        if n & 1 == 1 { packed[j] = (codes[n - 1] & 15) << 4 }
    }

    /// Inverse of `pack4bit`.
    @inlinable
    public static func unpack4bit(_ packed: UnsafePointer<UInt8>, count n: Int, into codes: UnsafeMutablePointer<UInt8>) {
        for i in 0..<n { let b = packed[i >> 1]; codes[i] = i & 1 == 0 ? b >> 4 : b & 15 }
    }
}

/// Blockwise 8-bit storage of an optimizer state (bitsandbytes `Optimizer8bit`, spec §4.3): one code
/// byte per element plus a float32 absmax per block of `blockSize` (256). Fresh states have absmax 0, so
/// they dequantize to 0. Adam's `m` uses `Codebook.dynamicSigned`, `v` `Codebook.dynamicUnsigned`.
///
/// Fusable block by block: an optimizer step does, for each block `b`,
/// `dequantizeBlock(b, into: tmp)`, its update on `tmp`, then `quantizeBlock(b, from: tmp)`.
public struct Blockwise8bitState: Sendable {
    public let codebook: Codebook
    public let count: Int
    public let blockSize: Int
    /// One code per element.
    public var codes: [UInt8]
    /// One absmax per block.
    public var absmax: [Float]

    /// A zero state of `count` elements.
    public init(count: Int, codebook: Codebook, blockSize: Int = 256) throws(GradusError) {
        guard count >= 0 else { throw .invalidArgument("Blockwise8bitState: negative count \(count)") }
        guard blockSize > 0 else { throw .invalidArgument("Blockwise8bitState: block size must be positive (got \(blockSize))") }
        guard codebook.values.count == 256 else {
            throw .invalidArgument("Blockwise8bitState: needs a 256-entry (8-bit) codebook (got \(codebook.values.count))")
        }
        self.codebook = codebook
        self.count = count
        self.blockSize = blockSize
        codes = [UInt8](repeating: codebook.zeroCode, count: count)
        absmax = [Float](repeating: 0, count: BlockwiseKernel.blockCount(count: count, blockSize: blockSize))
    }

    /// Number of blocks.
    public var blockCount: Int { absmax.count }
    /// Element range of block `b`.
    public func range(ofBlock b: Int) -> Range<Int> { (b * blockSize)..<Swift.min(count, (b + 1) * blockSize) }
    /// Bytes held (codes + absmax).
    public var byteCount: Int { count + 4 * absmax.count }

    /// Dequantizes all elements into `out` (`count` floats).
    public func dequantize(into out: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        codes.withUnsafeBufferPointer { c in
            absmax.withUnsafeBufferPointer { a in
                BlockwiseKernel.dequantize(codes: c.baseAddress!, absmax: a.baseAddress!, count: count,
                                           blockSize: blockSize, codebook: codebook, into: out)
            }
        }
    }

    /// Requantizes all elements from `x` (`count` floats) with fresh absmax.
    public mutating func quantize(from x: UnsafePointer<Float>) {
        guard count > 0 else { return }
        let (n, bs, cb) = (count, blockSize, codebook)
        absmax.withUnsafeMutableBufferPointer { a in
            codes.withUnsafeMutableBufferPointer { c in
                BlockwiseKernel.quantize(x, count: n, blockSize: bs, codebook: cb, codes: c.baseAddress!,
                                         absmax: a.baseAddress!)
            }
        }
    }

    /// Dequantizes block `b` into `out[0 ..< range(ofBlock: b).count]`.
    public func dequantizeBlock(_ b: Int, into out: UnsafeMutablePointer<Float>) {
        let r = range(ofBlock: b)
        let m = absmax[b]
        codes.withUnsafeBufferPointer { c in
            codebook.values.withUnsafeBufferPointer { v in
                BlockwiseKernel.dequantizeBlock(codes: c.baseAddress! + r.lowerBound, count: r.count, absmax: m,
                                                values: v, into: out)
            }
        }
    }

    /// Requantizes block `b` from `x[0 ..< range(ofBlock: b).count]`.
    public mutating func quantizeBlock(_ b: Int, from x: UnsafePointer<Float>) {
        let r = range(ofBlock: b)
        let cb = codebook
        let m: Float = codes.withUnsafeMutableBufferPointer { c in
            cb.midpoints.withUnsafeBufferPointer { mid in
                cb.sortedCodes.withUnsafeBufferPointer { sc in
                    BlockwiseKernel.quantizeBlock(x, count: r.count, codes: c.baseAddress! + r.lowerBound,
                                                  midpoints: mid, sortedCodes: sc, zeroCode: cb.zeroCode)
                }
            }
        }
        absmax[b] = m
    }
}
