import Glibc
import _GradusShims

/// Element type of a tensor. Raw values equal the C ABI's `GRADUS_DTYPE_*`.
public enum DType: Int32, Sendable, CustomStringConvertible {
    case float32 = 0
    case float64 = 1

    /// Bytes per element.
    public var size: Int { self == .float32 ? 4 : 8 }
    public var description: String { self == .float32 ? "float32" : "float64" }
}

/// The scalar types a tensor can hold (Float, Double). Kernels are generic over it and specialise.
public protocol TensorScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable {
    static var dtype: DType { get }
    static func _exp(_ x: Self) -> Self
    static func _log(_ x: Self) -> Self
    static func _tanh(_ x: Self) -> Self
    static func _erf(_ x: Self) -> Self
    static func _sqrt(_ x: Self) -> Self
    static func _pow(_ x: Self, _ y: Self) -> Self
    static func _log1p(_ x: Self) -> Self
    static func _expm1(_ x: Self) -> Self
}

extension Float: TensorScalar {
    public static var dtype: DType { .float32 }
    @inlinable @inline(__always) public static func _exp(_ x: Float) -> Float { expf(x) }
    @inlinable @inline(__always) public static func _log(_ x: Float) -> Float { logf(x) }
    @inlinable @inline(__always) public static func _tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable @inline(__always) public static func _erf(_ x: Float) -> Float { erff(x) }
    @inlinable @inline(__always) public static func _sqrt(_ x: Float) -> Float { gradus_sqrtf(x) }
    @inlinable @inline(__always) public static func _pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inlinable @inline(__always) public static func _log1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable @inline(__always) public static func _expm1(_ x: Float) -> Float { expm1f(x) }
}

extension Double: TensorScalar {
    public static var dtype: DType { .float64 }
    @inlinable @inline(__always) public static func _exp(_ x: Double) -> Double { exp(x) }
    @inlinable @inline(__always) public static func _log(_ x: Double) -> Double { log(x) }
    @inlinable @inline(__always) public static func _tanh(_ x: Double) -> Double { tanh(x) }
    @inlinable @inline(__always) public static func _erf(_ x: Double) -> Double { erf(x) }
    @inlinable @inline(__always) public static func _sqrt(_ x: Double) -> Double { gradus_sqrt(x) }
    @inlinable @inline(__always) public static func _pow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
    @inlinable @inline(__always) public static func _log1p(_ x: Double) -> Double { log1p(x) }
    @inlinable @inline(__always) public static func _expm1(_ x: Double) -> Double { expm1(x) }
}
