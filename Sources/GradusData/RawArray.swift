import GradusRuntime

/// Element types that files on disk may hold (IDX, `.npy`, safetensors).
///
/// The raw values are the safetensors dtype names.
public enum ElementType: String, Sendable, CaseIterable, CustomStringConvertible {
    case bool = "BOOL"
    case uint8 = "U8"
    case int8 = "I8"
    case uint16 = "U16"
    case int16 = "I16"
    case uint32 = "U32"
    case int32 = "I32"
    case uint64 = "U64"
    case int64 = "I64"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case float32 = "F32"
    case float64 = "F64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .uint8, .int8: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        }
    }

    /// True for the floating-point types.
    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: return true
        default: return false
        }
    }

    public var description: String { rawValue }
}

/// A dense, row-major (C order) array of any `ElementType`, with its bytes in little-endian order.
///
/// This is what the file readers return before anything becomes a `Tensor`: it keeps integer labels
/// exact and lets the caller choose the float type. Conversions run as plain loops over the bytes.
public struct RawArray: Sendable, Equatable {
    /// Dimensions, outermost first. `[]` is a scalar.
    public let shape: [Int]
    /// The element type of `bytes`.
    public let elementType: ElementType
    /// `count * elementType.size` bytes, little-endian, C order.
    public let bytes: [UInt8]

    /// Number of elements (product of `shape`).
    public var count: Int { shape.reduce(1, *) }

    /// Wraps little-endian bytes. Throws when the byte count does not match the shape.
    public init(shape: [Int], elementType: ElementType, bytes: [UInt8]) throws(GradusError) {
        let n = try RawArray.checkedCount(shape)
        let (b, o) = n.multipliedReportingOverflow(by: elementType.size)
        guard !o, b == bytes.count else {
            throw .shapeMismatch("\(bytes.count) bytes do not hold shape \(shape) of \(elementType)")
        }
        self.shape = shape
        self.elementType = elementType
        self.bytes = bytes
    }

    /// An F32 array.
    public init(shape: [Int], scalars: [Float]) throws(GradusError) {
        try self.init(shape: shape, elementType: .float32, bytes: RawArray.encode(scalars))
    }

    /// An F64 array.
    public init(shape: [Int], scalars: [Double]) throws(GradusError) {
        try self.init(shape: shape, elementType: .float64, bytes: RawArray.encode(scalars))
    }

    /// An I32 array (labels).
    public init(shape: [Int], scalars: [Int32]) throws(GradusError) {
        try self.init(shape: shape, elementType: .int32, bytes: RawArray.encode(scalars))
    }

    /// An I64 array.
    public init(shape: [Int], scalars: [Int64]) throws(GradusError) {
        try self.init(shape: shape, elementType: .int64, bytes: RawArray.encode(scalars))
    }

    /// A U8 array.
    public init(shape: [Int], scalars: [UInt8]) throws(GradusError) {
        try self.init(shape: shape, elementType: .uint8, bytes: scalars)
    }

    /// Element count of a shape from a file, checked: non-negative dims, no overflow, at most 2^40 elements.
    public static func checkedCount(_ shape: [Int]) throws(GradusError) -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw .format("negative dimension in shape \(shape)") }
            let (m, o) = n.multipliedReportingOverflow(by: d)
            guard !o, m <= 1 << 40 else { throw .format("shape \(shape) is too large") }
            n = m
        }
        return n
    }

    /// The little-endian bytes of fixed-width values (this library runs on little-endian hosts only).
    static func encode<T: BitwiseCopyable>(_ values: [T]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }

    /// Decodes all elements and converts them with `convert`, one pass over the bytes.
    @inline(__always)
    private func mapElements<S: BitwiseCopyable, R>(_ source: S.Type, _ convert: (S) -> R) -> [R] {
        let n = count
        return bytes.withUnsafeBytes { raw in
            [R](unsafeUninitializedCapacity: n) { out, initialized in
                let base = raw.baseAddress!
                for i in 0..<n { out.initializeElement(at: i, to: convert(base.loadUnaligned(fromByteOffset: i &* MemoryLayout<S>.size, as: S.self))) }
                initialized = n
            }
        }
    }

    /// The elements converted to `Float` (integers and halfs convert exactly where representable).
    public func floats() -> [Float] {
        if count == 0 { return [] }
        switch elementType {
        case .bool, .uint8: return mapElements(UInt8.self) { Float($0) }
        case .int8: return mapElements(Int8.self) { Float($0) }
        case .uint16: return mapElements(UInt16.self) { Float($0) }
        case .int16: return mapElements(Int16.self) { Float($0) }
        case .uint32: return mapElements(UInt32.self) { Float($0) }
        case .int32: return mapElements(Int32.self) { Float($0) }
        case .uint64: return mapElements(UInt64.self) { Float($0) }
        case .int64: return mapElements(Int64.self) { Float($0) }
        case .float16: return mapElements(UInt16.self) { RawArray.halfToFloat($0) }
        case .bfloat16: return mapElements(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        case .float32: return mapElements(Float.self) { $0 }
        case .float64: return mapElements(Double.self) { Float($0) }
        }
    }

    /// The elements converted to `Double`.
    public func doubles() -> [Double] {
        if count == 0 { return [] }
        switch elementType {
        case .bool, .uint8: return mapElements(UInt8.self) { Double($0) }
        case .int8: return mapElements(Int8.self) { Double($0) }
        case .uint16: return mapElements(UInt16.self) { Double($0) }
        case .int16: return mapElements(Int16.self) { Double($0) }
        case .uint32: return mapElements(UInt32.self) { Double($0) }
        case .int32: return mapElements(Int32.self) { Double($0) }
        case .uint64: return mapElements(UInt64.self) { Double($0) }
        case .int64: return mapElements(Int64.self) { Double($0) }
        case .float16: return mapElements(UInt16.self) { Double(RawArray.halfToFloat($0)) }
        case .bfloat16: return mapElements(UInt16.self) { Double(Float(bitPattern: UInt32($0) << 16)) }
        case .float32: return mapElements(Float.self) { Double($0) }
        case .float64: return mapElements(Double.self) { $0 }
        }
    }

    /// The elements as `Int64`. Throws `.dtypeMismatch` for floating-point arrays and `.format` for
    /// unsigned 64-bit values above `Int64.max`.
    public func int64s() throws(GradusError) -> [Int64] {
        if count == 0 { return [] }
        switch elementType {
        case .bool, .uint8: return mapElements(UInt8.self) { Int64($0) }
        case .int8: return mapElements(Int8.self) { Int64($0) }
        case .uint16: return mapElements(UInt16.self) { Int64($0) }
        case .int16: return mapElements(Int16.self) { Int64($0) }
        case .uint32: return mapElements(UInt32.self) { Int64($0) }
        case .int32: return mapElements(Int32.self) { Int64($0) }
        case .int64: return mapElements(Int64.self) { $0 }
        case .uint64:
            let v = mapElements(UInt64.self) { $0 }
            guard v.allSatisfy({ $0 <= UInt64(Int64.max) }) else { throw .format("U64 value exceeds Int64.max") }
            return v.map { Int64($0) }
        case .float16, .bfloat16, .float32, .float64:
            throw .dtypeMismatch("expected an integer array, found \(elementType)")
        }
    }

    /// The elements as `Int32` (class labels). Throws when a value does not fit or the array is floating point.
    public func int32s() throws(GradusError) -> [Int32] {
        let wide = try int64s()
        var out = [Int32](repeating: 0, count: wide.count)
        for i in 0..<wide.count {
            guard let v = Int32(exactly: wide[i]) else { throw .format("value \(wide[i]) does not fit in Int32") }
            out[i] = v
        }
        return out
    }

    /// IEEE half (binary16) bits to Float, including subnormals, infinities and NaN.
    @inlinable
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int(h >> 10) & 0x1F
        let man = UInt32(h & 0x3FF)
        if exp == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (man << 13)) }
        if exp == 0 {
            // Subnormal half: man * 2^-24.
            let v = Float(man) * (1.0 / 16_777_216.0)
            return sign != 0 ? -v : v
        }
        return Float(bitPattern: sign | (UInt32(exp - 15 + 127) << 23) | (man << 13))
    }
}
