import GradusRuntime

/// Reader and writer for numpy's `.npy` format (versions 1.0, 2.0 and 3.0).
///
/// Reads little- and big-endian `f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1` in C or Fortran order (Fortran
/// arrays are transposed into C order). Structured and object dtypes throw `.unsupported`.
/// Writes version 1.0, C order, little-endian, as `numpy.save` does.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Reads a `.npy` file.
    public static func read(_ path: String) throws(GradusError) -> RawArray {
        try decode(try FileIO.readAll(path), name: path)
    }

    /// Writes a `.npy` file atomically.
    public static func write(_ array: RawArray, to path: String) throws(GradusError) {
        try FileIO.writeAtomically(path, chunks: [try encodeHeader(array), array.bytes])
    }

    /// Decodes the bytes of a `.npy` file. `name` only labels error messages.
    public static func decode(_ bytes: [UInt8], name: String = "<npy>") throws(GradusError) -> RawArray {
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw .format("'\(name)' is not a .npy file (bad magic)") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw .format("'\(name)': truncated .npy preamble") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw .unsupported("'\(name)': .npy version \(major).\(bytes[7])")
        }
        guard headerLength <= bytes.count - headerStart else { throw .format("'\(name)': header length \(headerLength) beyond end of file") }
        let header = try parseHeader(Array(bytes[headerStart..<headerStart + headerLength]), name: name)
        let dataStart = headerStart + headerLength
        let n = try RawArray.checkedCount(header.shape)
        let byteCount = n * header.type.size
        guard bytes.count - dataStart == byteCount else {
            throw .format("'\(name)': expected \(byteCount) data bytes for shape \(header.shape) of \(header.type), found \(bytes.count - dataStart)")
        }
        var data = Array(bytes[dataStart...])
        if header.bigEndian { IDX.swapBytes(&data, width: header.type.size) }
        if header.fortranOrder && header.shape.count > 1 {
            data = fortranToC(data, shape: header.shape, width: header.type.size)
        }
        return try RawArray(shape: header.shape, elementType: header.type, bytes: data)
    }

    struct Header {
        var type: ElementType
        var bigEndian: Bool
        var fortranOrder: Bool
        var shape: [Int]
    }

    /// Parses the Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
    static func parseHeader(_ raw: [UInt8], name: String) throws(GradusError) -> Header {
        var p = PyLiteralScanner(bytes: raw, name: name)
        var descr: String? = nil
        var fortran: Bool? = nil
        var shape: [Int]? = nil
        try p.expect(UInt8(ascii: "{"))
        while true {
            p.skipSpace()
            if p.peek == UInt8(ascii: "}") { p.i += 1; break }
            let key = try p.string()
            try p.expect(UInt8(ascii: ":"))
            switch key {
            case "descr": descr = try p.string()
            case "fortran_order": fortran = try p.bool()
            case "shape": shape = try p.intTuple()
            default: throw p.fail("unexpected key '\(key)'")
            }
            p.skipSpace()
            if p.peek == UInt8(ascii: ",") { p.i += 1; continue }
            try p.expect(UInt8(ascii: "}"))
            break
        }
        guard let descr, let fortran, let shape else { throw p.fail("missing descr, fortran_order or shape") }
        let (type, big) = try elementType(descr: descr, name: name)
        return Header(type: type, bigEndian: big, fortranOrder: fortran, shape: shape)
    }

    static func elementType(descr: String, name: String) throws(GradusError) -> (ElementType, Bool) {
        let chars = Array(descr.utf8)
        guard chars.count >= 2 else { throw .format("'\(name)': bad descr '\(descr)'") }
        var big = false
        var rest = chars[...]
        switch chars[0] {
        case UInt8(ascii: "<"), UInt8(ascii: "="), UInt8(ascii: "|"): rest = chars[1...]
        case UInt8(ascii: ">"): big = true; rest = chars[1...]
        default: break
        }
        let code = String(decoding: rest, as: UTF8.self)
        let table: [String: ElementType] = [
            "f2": .float16, "f4": .float32, "f8": .float64,
            "i1": .int8, "i2": .int16, "i4": .int32, "i8": .int64,
            "u1": .uint8, "u2": .uint16, "u4": .uint32, "u8": .uint64, "b1": .bool,
        ]
        guard let t = table[code] else { throw .unsupported("'\(name)': .npy dtype '\(descr)' is not supported") }
        return (t, big && t.size > 1)
    }

    static func descr(of type: ElementType) throws(GradusError) -> String {
        switch type {
        case .bool: return "|b1"
        case .uint8: return "|u1"
        case .int8: return "|i1"
        case .uint16: return "<u2"
        case .int16: return "<i2"
        case .uint32: return "<u4"
        case .int32: return "<i4"
        case .uint64: return "<u8"
        case .int64: return "<i8"
        case .float16: return "<f2"
        case .float32: return "<f4"
        case .float64: return "<f8"
        case .bfloat16: throw .unsupported(".npy has no bfloat16 dtype")
        }
    }

    /// The version 1.0 preamble and header, padded with spaces so data starts on a 64-byte boundary.
    static func encodeHeader(_ array: RawArray) throws(GradusError) -> [UInt8] {
        let dims = array.shape.map(String.init)
        let shape = array.shape.count == 1 ? "(\(dims[0]),)" : "(" + dims.joined(separator: ", ") + ")"
        var dict = "{'descr': '\(try descr(of: array.elementType))', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        guard dict.utf8.count <= 65535 else { throw .invalidArgument("shape \(array.shape) too long for a .npy v1 header") }
        let n = dict.utf8.count
        return magic + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(dict.utf8)
    }

    /// Reorders column-major element bytes into row-major order.
    static func fortranToC(_ data: [UInt8], shape: [Int], width: Int) -> [UInt8] {
        let n = shape.reduce(1, *)
        if n == 0 { return data }
        let rank = shape.count
        // Fortran strides (in elements): first axis varies fastest.
        var fstride = [Int](repeating: 1, count: rank)
        for d in 1..<rank { fstride[d] = fstride[d - 1] * shape[d - 1] }
        var out = [UInt8](repeating: 0, count: data.count)
        var index = [Int](repeating: 0, count: rank)
        var src = 0
        data.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for dst in 0..<n {
                    for b in 0..<width { o[dst * width + b] = s[src * width + b] }
                    // Advance the C-order multi-index (last axis fastest), tracking the Fortran offset.
                    var d = rank - 1
                    while d >= 0 {
                        index[d] += 1
                        src += fstride[d]
                        if index[d] < shape[d] { break }
                        src -= fstride[d] * shape[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return out
    }
}

/// A scanner for the tiny subset of Python literals that `.npy` headers use.
struct PyLiteralScanner {
    let bytes: [UInt8]
    let name: String
    var i = 0

    init(bytes: [UInt8], name: String) { self.bytes = bytes; self.name = name }

    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    func fail(_ what: String) -> GradusError { .format("'\(name)': bad .npy header: \(what) at byte \(i)") }

    mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 }
    }

    mutating func expect(_ c: UInt8) throws(GradusError) {
        skipSpace()
        guard peek == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
        i += 1
    }

    mutating func string() throws(GradusError) -> String {
        skipSpace()
        guard let q = peek, q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") else { throw fail("expected a string") }
        i += 1
        let start = i
        while let c = peek, c != q { i += 1 }
        guard peek == q else { throw fail("unterminated string") }
        defer { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    mutating func bool() throws(GradusError) -> Bool {
        skipSpace()
        for (word, value) in [("True", true), ("False", false)] {
            let w = Array(word.utf8)
            if i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w { i += w.count; return value }
        }
        throw fail("expected True or False")
    }

    mutating func int() throws(GradusError) -> Int {
        skipSpace()
        let start = i
        while let c = peek, c >= 0x30 && c <= 0x39 { i += 1 }
        guard i > start, i - start <= 18, let v = Int(String(decoding: bytes[start..<i], as: UTF8.self)) else {
            throw fail("expected a dimension")
        }
        // Python 2 era headers may write 3L.
        if peek == UInt8(ascii: "L") { i += 1 }
        return v
    }

    mutating func intTuple() throws(GradusError) -> [Int] {
        try expect(UInt8(ascii: "("))
        var out: [Int] = []
        while true {
            skipSpace()
            if peek == UInt8(ascii: ")") { i += 1; return out }
            out.append(try int())
            skipSpace()
            if peek == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: ")"))
            return out
        }
    }
}
