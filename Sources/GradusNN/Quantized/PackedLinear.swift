import GradusQuant
import GradusRuntime
import GradusTensor

/// Inference with real 4-bit weights: a `Linear` whose weight is stored as `Packed4BitWeight` (two codes
/// per byte plus a float32 scale per group) and decoded on the fly. `y = x·Ŵᵀ + b`, float32.
///
/// Small batches (≤ `rowByRowLimit` rows) decode one weight row at a time (no dense copy); larger ones
/// decode the weight into a temporary dense matrix once per call and use one GEMM. The gradient reaches
/// the input (`∂x = G·Ŵ`), not the packed weight. `byteCount` is the resident weight memory.
public final class PackedLinear: Module, @unchecked Sendable {
    public let weight: Packed4BitWeight
    public let bias: Tensor?
    public var inFeatures: Int { weight.cols }
    public var outFeatures: Int { weight.rows }
    /// Batch rows up to which the row-by-row decoder is used.
    public var rowByRowLimit = 4

    /// Packs a float32 `Linear`'s weight (its bias is kept in float32, detached).
    ///
    /// - Parameters: `groupSize` (default 128 — ≤ 0.14 of float32 memory; must be even and divide `in`); `format` (default symmetric INT4).
    /// - Throws: `invalidArgument` for a bad group size, `dtypeMismatch` for a float64 layer.
    public init(_ linear: Linear, groupSize: Int = 128, format: Packed4BitWeight.Format = .int4Symmetric) throws(GradusError) {
        guard linear.weight.dtype == .float32 else { throw .dtypeMismatch("PackedLinear: packs float32 weights, got \(linear.weight.dtype)") }
        let w = GradMode.withoutGrad { linear.weight.contiguous() }
        weight = try Packed4BitWeight(quantizing: w.basePointer(as: Float.self), rows: linear.outFeatures, cols: linear.inFeatures,
                                      groupSize: groupSize, format: format)
        bias = linear.bias.map { b in GradMode.withoutGrad { b.detached().clone() } }
    }

    /// Bytes of the packed weight (codes, scales, zero points) plus the bias.
    public var byteCount: Int { weight.byteCount + 4 * (bias?.count ?? 0) }
    /// Bytes the same layer takes in float32.
    public var denseByteCount: Int { weight.denseByteCount + 4 * (bias?.count ?? 0) }

    /// The decoded weight `Ŵ` (out, in) as a new tensor.
    public func dequantizedWeight() -> Tensor {
        let t = Tensor.uninitializedContiguous([outFeatures, inFeatures], dtype: .float32)
        weight.dequantize(into: t.basePointer(as: Float.self))
        return t
    }

    override public func forward(_ input: Tensor) throws(GradusError) -> Tensor {
        guard input.dtype == .float32 else { throw .dtypeMismatch("PackedLinear: input is \(input.dtype), expected float32") }
        guard input.rank >= 1, input.shape.last == inFeatures else {
            throw .shapeMismatch("PackedLinear(\(inFeatures), \(outFeatures)): input \(input.shape) does not end in \(inFeatures)")
        }
        let m = input.shape.dropLast().reduce(1, *)
        let outShape = Array(input.shape.dropLast()) + [outFeatures]
        let value: Tensor = try GradMode.withoutGrad { () throws(GradusError) in
            if m <= rowByRowLimit {
                let x = input.contiguous()
                let y = Tensor.uninitializedContiguous(outShape, dtype: .float32)
                weight.matmul(x.basePointer(as: Float.self), batch: m, bias: bias.map { UnsafePointer($0.basePointer(as: Float.self)) },
                              into: y.basePointer(as: Float.self))
                return y
            }
            return try Tensor.linear(input, weight: dequantizedWeight(), bias: bias)
        }
        return Tensor.custom(name: "packedLinear", inputs: [input], output: value) { [self] g throws(GradusError) in
            let w = dequantizedWeight()
            return [try g.reshaped([m, outFeatures]).matmul(w).reshaped(input.shape)]
        }
    }
}
