import GradusRuntime

/// The contents of a safetensors file: named arrays plus the optional string metadata.
public struct SafetensorsContents: Sendable, Equatable {
    public var tensors: [String: RawArray]
    public var metadata: [String: String]

    public init(tensors: [String: RawArray], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }
}

/// Reader and writer for the safetensors format (Hugging Face), byte-compatible with the Python
/// `safetensors` package.
///
/// Layout: an 8-byte little-endian header length `N`, `N` bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}`
/// (padded with spaces to a multiple of 8), then the data buffer, which the offsets index.
///
/// Decoding validates everything before touching data, with the rules of the reference implementation:
/// header length at most 100 MB and inside the file, a JSON object, known dtypes, non-negative shapes
/// whose byte size equals `end - begin`, offsets that tile the buffer exactly (in range, no overlap,
/// no holes). Violations throw `GradusError.format`; nothing traps.
public enum Safetensors {
    /// The reference implementation's limit on the JSON header.
    public static let maxHeaderLength = 100_000_000
    static let metadataKey = "__metadata__"
    /// dtypes that exist in the format but that Gradus cannot represent.
    static let knownUnsupported: Set<String> = ["F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"]

    // MARK: Encoding

    /// Serializes tensors and metadata into the header bytes (length prefix included) and the data chunks.
    ///
    /// Tensors are laid out by decreasing element size, then name, as the Python package does, so every
    /// tensor stays aligned to its element size.
    public static func encode(_ contents: SafetensorsContents) throws(GradusError) -> [[UInt8]] {
        var names = Array(contents.tensors.keys)
        for name in names where name == metadataKey || name.isEmpty {
            throw .invalidArgument("'\(name)' cannot be a tensor name")
        }
        names.sort { a, b in
            let sa = contents.tensors[a]!.elementType.size, sb = contents.tensors[b]!.elementType.size
            return sa != sb ? sa > sb : a < b
        }
        var header: [String: JSON] = [:]
        var offset = 0
        var chunks: [[UInt8]] = [[]]
        for name in names {
            let t = contents.tensors[name]!
            header[name] = .object([
                "dtype": .string(t.elementType.rawValue),
                "shape": .array(t.shape.map { .number(Double($0)) }),
                "data_offsets": .array([.number(Double(offset)), .number(Double(offset + t.bytes.count))]),
            ])
            offset += t.bytes.count
            chunks.append(t.bytes)
        }
        if !contents.metadata.isEmpty {
            header[metadataKey] = .object(contents.metadata.mapValues { .string($0) })
        }
        var json = Array(JSON.object(header).serialized.utf8)
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        guard json.count <= maxHeaderLength else { throw .invalidArgument("safetensors header exceeds 100 MB") }
        var n = UInt64(json.count)
        var prefix = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { prefix[i] = UInt8(truncatingIfNeeded: n); n >>= 8 }
        chunks[0] = prefix + json
        return chunks
    }

    /// Writes a safetensors file atomically: temporary file, fsync, rename. A failure at any point
    /// leaves the previous file at `path` untouched.
    public static func write(_ contents: SafetensorsContents, to path: String) throws(GradusError) {
        try FileIO.writeAtomically(path, chunks: try encode(contents))
    }

    // MARK: Decoding

    /// Reads and validates a safetensors file.
    public static func read(_ path: String) throws(GradusError) -> SafetensorsContents {
        try decode(try FileIO.readAll(path), name: path)
    }

    /// Parses and validates the bytes of a safetensors file. `name` only labels error messages.
    public static func decode(_ bytes: [UInt8], name: String = "<safetensors>") throws(GradusError) -> SafetensorsContents {
        func bad(_ what: String) -> GradusError { .format("'\(name)': \(what)") }
        guard bytes.count >= 8 else { throw bad("truncated: \(bytes.count) bytes, need at least 8 for the header length") }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = (n << 8) | UInt64(bytes[i]) }
        guard n <= UInt64(maxHeaderLength) else { throw bad("header length \(n) exceeds the 100 MB limit") }
        let headerLength = Int(n)
        guard headerLength <= bytes.count - 8 else {
            throw bad("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        guard headerLength >= 2, bytes[8] == UInt8(ascii: "{") else { throw bad("header does not start with '{'") }
        let root = try JSON.parse(bytes: Array(bytes[8..<8 + headerLength]))
        guard case .object(let entries) = root else { throw bad("header is not a JSON object") }

        let dataStart = 8 + headerLength
        let bufferLength = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var spans: [(name: String, begin: Int, end: Int, type: ElementType, shape: [Int])] = []
        for (key, value) in entries {
            if key == metadataKey {
                guard case .object(let m) = value else { throw bad("__metadata__ is not an object") }
                for (k, v) in m {
                    guard case .string(let s) = v else { throw bad("__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard case .object(let info) = value else { throw bad("entry '\(key)' is not an object") }
            guard let dtypeName = info["dtype"]?.string else { throw bad("entry '\(key)' has no dtype string") }
            guard let type = ElementType(rawValue: dtypeName) else {
                if knownUnsupported.contains(dtypeName) { throw .unsupported("'\(name)': dtype \(dtypeName) of '\(key)' is not supported") }
                throw bad("entry '\(key)' has unknown dtype '\(dtypeName)'")
            }
            guard let dims = info["shape"]?.array else { throw bad("entry '\(key)' has no shape array") }
            var shape: [Int] = []
            for d in dims {
                guard let v = d.int, v >= 0 else { throw bad("entry '\(key)' has an invalid dimension \(d.serialized)") }
                shape.append(v)
            }
            guard let offsets = info["data_offsets"]?.array, offsets.count == 2,
                  let begin = offsets[0].int, let end = offsets[1].int else {
                throw bad("entry '\(key)' needs data_offsets [begin, end] of integers")
            }
            guard begin >= 0, begin <= end, end <= bufferLength else {
                throw bad("entry '\(key)' offsets [\(begin), \(end)] out of range for a \(bufferLength)-byte buffer")
            }
            let count: Int
            do { count = try RawArray.checkedCount(shape) } catch { throw bad("entry '\(key)': \(error.message)") }
            let (size, o) = count.multipliedReportingOverflow(by: type.size)
            guard !o, size == end - begin else {
                throw bad("entry '\(key)': shape \(shape) of \(type) needs \(o ? "too many" : String(size)) bytes, offsets span \(end - begin)")
            }
            spans.append((key, begin, end, type, shape))
        }
        // The offsets must tile the buffer: sorted by begin, each starts where the previous ended.
        spans.sort { $0.begin != $1.begin ? $0.begin < $1.begin : $0.end < $1.end }
        var cursor = 0
        for s in spans {
            guard s.begin >= cursor else { throw bad("entry '\(s.name)' overlaps the previous tensor (offset \(s.begin) < \(cursor))") }
            guard s.begin == cursor else { throw bad("gap in the data buffer before '\(s.name)' (offset \(s.begin), expected \(cursor))") }
            cursor = s.end
        }
        guard cursor == bufferLength else {
            throw bad("data buffer is \(bufferLength) bytes but the tensors cover \(cursor) (truncated or trailing bytes)")
        }
        var tensors: [String: RawArray] = [:]
        for s in spans {
            tensors[s.name] = try RawArray(shape: s.shape, elementType: s.type,
                                           bytes: Array(bytes[dataStart + s.begin..<dataStart + s.end]))
        }
        return SafetensorsContents(tensors: tensors, metadata: metadata)
    }
}
