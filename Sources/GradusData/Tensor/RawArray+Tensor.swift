import GradusRuntime
import GradusTensor

extension RawArray {
    /// The elements of a tensor (any layout) as an F32 or F64 array, detached from the graph.
    public init(tensor: Tensor) throws(GradusError) {
        let c = tensor.detached().contiguous()
        let byteCount = c.count * c.dtype.size
        let start = UnsafeRawPointer(c.storage.raw) + c.offset * c.dtype.size
        let bytes = [UInt8](UnsafeRawBufferPointer(start: start, count: byteCount))
        try self.init(shape: c.shape, elementType: c.dtype == .float32 ? .float32 : .float64, bytes: bytes)
    }

    /// The tensor `dtype` that `tensor(dtype:)` picks by default: F64 and integer types load as float64
    /// (exact for integers up to 2^53), F32, F16 and BF16 as float32.
    public var naturalDType: DType {
        switch elementType {
        case .float32, .float16, .bfloat16: return .float32
        default: return .float64
        }
    }

    /// A new contiguous tensor with these values, converted to `dtype` (default `naturalDType`).
    public func tensor(dtype: DType? = nil) throws(GradusError) -> Tensor {
        let target = dtype ?? naturalDType
        if (target == .float32 && elementType == .float32) || (target == .float64 && elementType == .float64) {
            // Same dtype: one memcpy into fresh storage (the shape was validated when the array was made).
            let t = Tensor.zeros(shape, dtype: target)
            bytes.withUnsafeBytes { raw in
                if let base = raw.baseAddress { t.storage.raw.copyMemory(from: base, byteCount: raw.count) }
            }
            return t
        }
        switch target {
        case .float32: return Tensor(shape: shape, scalars: floats())
        case .float64: return Tensor(shape: shape, scalars: doubles())
        }
    }
}
