import CZlib
import Glibc
import GradusRuntime

/// Reader and writer for the IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed.
///
/// Layout (LeCun): two zero bytes, a type byte (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32,
/// 0x0E f64), the rank, then `rank` big-endian UInt32 dimensions and the big-endian data.
/// Files go through zlib's `gzread`, which reads gzip and uncompressed files alike.
public enum IDX {
    static func elementType(code: UInt8) -> ElementType? {
        switch code {
        case 0x08: return .uint8
        case 0x09: return .int8
        case 0x0B: return .int16
        case 0x0C: return .int32
        case 0x0D: return .float32
        case 0x0E: return .float64
        default: return nil
        }
    }

    static func code(of type: ElementType) -> UInt8? {
        switch type {
        case .uint8: return 0x08
        case .int8: return 0x09
        case .int16: return 0x0B
        case .int32: return 0x0C
        case .float32: return 0x0D
        case .float64: return 0x0E
        default: return nil
        }
    }

    /// A gzip stream opened for reading; closes itself.
    final class GzReader {
        let file: gzFile
        let path: String
        init(path: String) throws(GradusError) {
            // gzopen accepts directories on some systems; check for a regular file first.
            var st = stat()
            guard stat(path, &st) == 0 else { throw .io("cannot open '\(path)': \(FileIO.errnoText())") }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw .io("'\(path)' is not a regular file") }
            guard let f = gzopen(path, "rb") else { throw .io("cannot open '\(path)': \(FileIO.errnoText())") }
            file = f
            self.path = path
        }
        deinit { gzclose(file) }

        /// Reads exactly `count` bytes, growing the result as data arrives (a lying header cannot make us
        /// allocate more than the file really holds plus one chunk).
        func read(exactly count: Int) throws(GradusError) -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(min(count, 1 << 24))
            let chunk = 1 << 20
            var buffer = [UInt8](repeating: 0, count: min(chunk, max(count, 1)))
            while out.count < count {
                let want = min(buffer.count, count - out.count)
                let got = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32(want)) }
                if got < 0 {
                    var code: Int32 = 0
                    let msg = gzerror(file, &code).map { String(cString: $0) } ?? "unknown"
                    throw .format("'\(path)': corrupt compressed data (\(msg))")
                }
                if got == 0 { throw .format("'\(path)' is truncated: expected \(count) bytes, got \(out.count)") }
                out.append(contentsOf: buffer[0..<Int(got)])
            }
            return out
        }

        var isAtEnd: Bool {
            var one: UInt8 = 0
            return gzread(file, &one, 1) <= 0
        }
    }

    /// Reads an IDX file (gzip-compressed or not) into a little-endian `RawArray`.
    ///
    /// Throws `.io` when the file cannot be opened and `.format` for a bad magic, unknown type code,
    /// truncated data or trailing bytes.
    public static func read(_ path: String) throws(GradusError) -> RawArray {
        let reader = try GzReader(path: path)
        let head = try reader.read(exactly: 4)
        guard head[0] == 0, head[1] == 0 else { throw .format("'\(path)' is not an IDX file (bad magic)") }
        guard let type = elementType(code: head[2]) else {
            throw .format("'\(path)': unknown IDX type code 0x\(String(head[2], radix: 16))")
        }
        let rank = Int(head[3])
        let dimBytes = try reader.read(exactly: 4 * rank)
        var shape: [Int] = []
        for d in 0..<rank {
            let b = dimBytes[4 * d..<4 * d + 4].map { Int($0) }
            shape.append((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3])
        }
        let n = try RawArray.checkedCount(shape)
        var bytes = try reader.read(exactly: n * type.size)
        guard reader.isAtEnd else { throw .format("'\(path)': trailing bytes after IDX data of shape \(shape)") }
        swapBytes(&bytes, width: type.size)
        return try RawArray(shape: shape, elementType: type, bytes: bytes)
    }

    /// Writes `array` as IDX; gzip-compressed when `compressed` (the usual `.gz` files).
    /// The write is atomic (temporary file, fsync, rename).
    public static func write(_ array: RawArray, to path: String, compressed: Bool = true) throws(GradusError) {
        guard let code = code(of: array.elementType) else {
            throw .unsupported("IDX cannot store \(array.elementType)")
        }
        guard array.shape.count <= 255, array.shape.allSatisfy({ $0 <= Int(UInt32.max) }) else {
            throw .invalidArgument("shape \(array.shape) does not fit the IDX header")
        }
        var out: [UInt8] = [0, 0, code, UInt8(array.shape.count)]
        for d in array.shape {
            out += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16),
                    UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)]
        }
        var body = array.bytes
        swapBytes(&body, width: array.elementType.size)
        out += body
        try FileIO.writeAtomically(path, chunks: [compressed ? try gzip(out) : out])
    }

    /// Reverses each `width`-byte group in place (big-endian <-> little-endian).
    static func swapBytes(_ bytes: inout [UInt8], width: Int) {
        guard width > 1 else { return }
        bytes.withUnsafeMutableBufferPointer { p in
            var i = 0
            while i + width <= p.count {
                var lo = i, hi = i + width - 1
                while lo < hi { p.swapAt(lo, hi); lo += 1; hi -= 1 }
                i += width
            }
        }
    }

    /// Compresses bytes into a gzip member (zlib's deflate with a gzip wrapper).
    public static func gzip(_ input: [UInt8], level: Int32 = 6) throws(GradusError) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16 selects the gzip wrapper.
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .internal("deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.count)))
        var out = [UInt8](repeating: 0, count: bound)
        var input = input
        let status: Int32 = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = inp.baseAddress
                stream.avail_in = UInt32(inp.count)
                stream.next_out = o.baseAddress
                stream.avail_out = UInt32(o.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw .internal("deflate failed (\(status))") }
        out.removeSubrange(Int(stream.total_out)...)
        return out
    }
}
