import GradusRuntime
import GradusTensor

// Tensor front end of the guidance rules (inference: the result does not record gradients; a differentiable CFG
// for AlignProp will be composed from tensor ops instead).

extension GuidanceRule where Scalar: TensorScalar {
    /// `update` on tensors of the state's shape and dtype `Scalar.dtype`. Non-contiguous inputs are copied.
    /// - Throws: `GradusError.shapeMismatch` / `.dtypeMismatch` for tensors that do not fit the state.
    public func update(cond: Tensor, uncond: Tensor, state: inout State) throws(GradusError) -> Tensor {
        guard cond.shape == state.shape, uncond.shape == state.shape else {
            throw .shapeMismatch("guidance: tensors \(cond.shape) and \(uncond.shape), state shape \(state.shape)")
        }
        guard cond.dtype == Scalar.dtype, uncond.dtype == Scalar.dtype else {
            throw .dtypeMismatch("guidance: tensors are \(cond.dtype)/\(uncond.dtype), rule runs in \(Scalar.dtype)")
        }
        let c = cond.contiguous(), u = uncond.contiguous()
        let out = Tensor.zeros(state.shape, dtype: Scalar.dtype)
        if state.count > 0 {
            update(cond: UnsafePointer(c.basePointer(as: Scalar.self)), uncond: UnsafePointer(u.basePointer(as: Scalar.self)),
                   into: out.basePointer(as: Scalar.self), state: &state)
        }
        return out
    }
}

extension Guidance {
    /// CFG on tensors `(B, ...)` (float32 or float64). See `ClassifierFreeGuidance`.
    /// - Parameters: scale default 7.5; formulation default `.diffusers`; rescale default 0.
    public static func cfg(cond: Tensor, uncond: Tensor, scale: Double = 7.5, formulation: CFGFormulation = .diffusers,
                           rescale: Double = 0) throws(GradusError) -> Tensor {
        switch cond.dtype {
        case .float32:
            let rule = ClassifierFreeGuidance<Float>(scale: scale, formulation: formulation, rescale: rescale)
            var state = try rule.makeState(shape: cond.shape)
            return try rule.update(cond: cond, uncond: uncond, state: &state)
        case .float64:
            let rule = ClassifierFreeGuidance<Double>(scale: scale, formulation: formulation, rescale: rescale)
            var state = try rule.makeState(shape: cond.shape)
            return try rule.update(cond: cond, uncond: uncond, state: &state)
        }
    }
}

extension APGGuider where Scalar: TensorScalar {
    /// The guided prediction for one step, on tensors of the guider's shape and dtype.
    public func callAsFunction(cond: Tensor, uncond: Tensor) throws(GradusError) -> Tensor {
        try withState { (rule, state) throws(GradusError) in try rule.update(cond: cond, uncond: uncond, state: &state) }
    }
}
