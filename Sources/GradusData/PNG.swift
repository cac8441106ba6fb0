import CZlib
import GradusRuntime

/// A minimal PNG encoder (ISO/IEC 15948): 8-bit grayscale or RGB, one zlib-compressed IDAT, filter type 0 on every
/// row. Enough to write image grids a user can open; no reading. Uses the system zlib (`compress2`, `crc32`).
public enum PNG {
    /// Pixel layout of the input buffer.
    public enum ColorType: Sendable {
        /// One byte per pixel (PNG color type 0).
        case gray
        /// Three bytes per pixel, R G B (PNG color type 2).
        case rgb

        var channels: Int { self == .gray ? 1 : 3 }
        var code: UInt8 { self == .gray ? 0 : 2 }
    }

    /// Encodes `pixels` (row-major, `height × width × channels` bytes) as a PNG file image.
    /// - Parameter level: zlib compression level 0 (stored) … 9 (default 6).
    /// - Throws: `GradusError.invalidArgument` for empty or oversized images or a wrong buffer size;
    ///   `.internal` if zlib fails.
    public static func encode(pixels: [UInt8], width: Int, height: Int, color: ColorType, level: Int32 = 6) throws(GradusError) -> [UInt8] {
        guard width >= 1, height >= 1, width <= 1 << 24, height <= 1 << 24 else {
            throw .invalidArgument("PNG: size \(width)×\(height) must be between 1 and 2^24")
        }
        let rowBytes = width * color.channels
        let (total, overflow) = rowBytes.multipliedReportingOverflow(by: height)
        guard !overflow, total == pixels.count else {
            throw .invalidArgument("PNG: \(pixels.count) bytes for \(width)×\(height)×\(color.channels)")
        }
        guard (0...9).contains(level) else { throw .invalidArgument("PNG: compression level \(level) outside 0...9") }
        // Raw scanlines: a filter byte (0 = none) before each row.
        var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * height)
        pixels.withUnsafeBufferPointer { src in
            raw.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    (dst.baseAddress! + y * (rowBytes + 1) + 1).update(from: src.baseAddress! + y * rowBytes, count: rowBytes)
                }
            }
        }
        var bound = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(bound))
        let status = compressed.withUnsafeMutableBufferPointer { out in
            raw.withUnsafeBufferPointer { inp in compress2(out.baseAddress, &bound, inp.baseAddress, uLong(inp.count), level) }
        }
        guard status == Z_OK else { throw .internal("PNG: zlib compress2 failed (\(status))") }
        compressed.removeSubrange(Int(bound)...)

        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, color.code, 0, 0, 0]   // bit depth 8, color type, deflate, adaptive filtering, no interlace
        appendChunk(&file, "IHDR", header)
        appendChunk(&file, "IDAT", compressed)
        appendChunk(&file, "IEND", [])
        return file
    }

    /// Encodes and writes a PNG file (atomically: a temporary file renamed over `path`).
    public static func write(_ path: String, pixels: [UInt8], width: Int, height: Int, color: ColorType) throws(GradusError) {
        let bytes = try encode(pixels: pixels, width: width, height: height, color: color)
        try FileIO.writeAtomically(path, chunks: [bytes])
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// length, type, data, CRC-32 of type + data.
    static func appendChunk(_ file: inout [UInt8], _ type: String, _ data: [UInt8]) {
        let typeBytes = Array(type.utf8)
        file += bigEndian(UInt32(data.count))
        let body = typeBytes + data
        file += body
        let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        file += bigEndian(UInt32(truncatingIfNeeded: crc))
    }
}
