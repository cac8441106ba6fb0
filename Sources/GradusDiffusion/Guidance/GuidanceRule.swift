import GradusRuntime

/// Which base the guided update is added to (the two CFG formulations).
public enum CFGFormulation: String, Sendable, CaseIterable {
    /// diffusers / Imagen: `pred = u + s·Δ` (`s = 1` returns `c` for CFG). The default.
    case diffusers
    /// Ho & Salimans (`use_original_formulation`): `pred = c + s·Δ`; equals `.diffusers` with `s + 1` for CFG.
    case original
}

/// State every guidance rule keeps: the shape it was made for.
public protocol GuidanceState {
    /// `(B, ...)` shape of the predictions.
    var shape: [Int] { get }
    /// Number of elements of one prediction.
    var count: Int { get }
}

/// A guidance rule with the optimizer's shape: an immutable configuration that makes a per-generation `State`
/// and updates it once per sampler step, writing the guided prediction from the conditional and unconditional
/// model outputs (`cond`, `uncond`, both `(B, ...)` row-major).
///
/// Make a fresh state (or call `reset`) before every new generation: APG's momentum must start at zero.
/// `update` does not allocate; the state carries its scratch buffers.
public protocol GuidanceRule<Scalar>: Sendable {
    associatedtype Scalar: BinaryFloatingPoint & Sendable
    associatedtype State: GuidanceState

    /// State for predictions of `shape` (`(B, ...)`, rank ≥ 1).
    /// - Throws: `GradusError.invalidArgument` for bad shapes or hyper-parameters.
    func makeState(shape: [Int]) throws(GradusError) -> State

    /// Writes the guided prediction to `out` (`state.count` elements; `out` may alias `cond` or `uncond`).
    func update(cond: UnsafePointer<Scalar>, uncond: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>,
                state: inout State)
}

extension GuidanceRule {
    /// Array form of `update`.
    /// - Throws: `GradusError.shapeMismatch` when the sizes differ from the state's.
    public func update(cond: [Scalar], uncond: [Scalar], state: inout State) throws(GradusError) -> [Scalar] {
        guard cond.count == state.count, uncond.count == state.count else {
            throw .shapeMismatch("guidance: got \(cond.count) and \(uncond.count) elements, state shape \(state.shape)")
        }
        var out = [Scalar](repeating: 0, count: state.count)
        if out.isEmpty { return out }
        cond.withUnsafeBufferPointer { pc in
            uncond.withUnsafeBufferPointer { pu in
                out.withUnsafeMutableBufferPointer { po in
                    update(cond: pc.baseAddress!, uncond: pu.baseAddress!, into: po.baseAddress!, state: &state)
                }
            }
        }
        return out
    }
}

/// Validates a `(B, ...)` shape and returns its element count.
func elementCount(_ shape: [Int]) throws(GradusError) -> Int {
    guard !shape.isEmpty else { throw .invalidArgument("guidance: shape must have a batch axis") }
    var n = 1
    for d in shape {
        guard d >= 0 else { throw .invalidArgument("guidance: negative dimension in \(shape)") }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        guard !o else { throw .invalidArgument("guidance: element count of \(shape) overflows") }
        n = p
    }
    return n
}
