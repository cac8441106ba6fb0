import GradusRuntime
import GradusTensor

/// Classifier-free guidance (Ho & Salimans 2022; diffusers `guiders/classifier_free_guidance.py`), optionally
/// followed by CFG-rescale.
///
/// - `.diffusers` (default): `pred = u + s·(c − u)`; `s = 1` returns `c` exactly.
/// - `.original`: `pred = c + s·(c − u)`; `s = 0` returns `c` exactly.
/// Then, when `rescale > 0`, `CFGRescale` against `c`. The combination runs in Double for either scalar type and
/// is rounded once (see `Kernels.addScaledDifference`).
///
/// Stateless apart from scratch space; it has the `GuidanceRule` shape so samplers treat CFG and APG alike.
public struct ClassifierFreeGuidance<Scalar: BinaryFloatingPoint & Sendable>: GuidanceRule {
    /// Guidance scale `s` (default 7.5).
    public var scale: Double
    /// Base of the update (default `.diffusers`).
    public var formulation: CFGFormulation
    /// CFG-rescale `φ` in `[0, 1]` (default 0: off; Lin et al. recommend 0.7).
    public var rescale: Double

    /// - Parameters: scale default 7.5; formulation default `.diffusers`; rescale default 0.
    public init(scale: Double = 7.5, formulation: CFGFormulation = .diffusers, rescale: Double = 0) {
        self.scale = scale; self.formulation = formulation; self.rescale = rescale
    }

    /// Per-generation state: shape and rescale scratch.
    public struct State: GuidanceState, Sendable {
        public let shape: [Int]
        public let count: Int
        @usableFromInline let samples: ProjectionLayout
        @usableFromInline var scratch: [Double]
    }

    /// Whether guidance changes anything: false at `s = 1` (`.diffusers`) or `s = 0` (`.original`), where diffusers
    /// returns `c`.
    public var isEnabled: Bool {
        formulation == .diffusers ? abs(scale - 1) > 1e-9 : abs(scale) > 1e-9
    }

    public func makeState(shape: [Int]) throws(GradusError) -> State {
        guard scale.isFinite else { throw .invalidArgument("CFG: scale must be finite") }
        guard rescale >= 0, rescale <= 1 else { throw .invalidArgument("CFG: rescale \(rescale) outside [0, 1]") }
        let n = try elementCount(shape)
        let samples = try ProjectionLayout(shape: shape, dims: nil)
        return State(shape: shape, count: n, samples: samples, scratch: [Double](repeating: 0, count: samples.groupCount))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func update(cond: UnsafePointer<Scalar>, uncond: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>,
                       state: inout State) {
        let n = state.count
        if !isEnabled {
            if out != UnsafeMutablePointer(mutating: cond) { out.update(from: cond, count: n) }
            return
        }
        let base = formulation == .diffusers ? uncond : cond
        let samples = state.samples, rescale = rescale
        state.scratch.withUnsafeMutableBufferPointer { s in
            // std(c) before `out` (which may alias `cond`) is written
            if rescale > 0 { CFGRescale.measure(cond: cond, layout: samples, into: s.baseAddress!) }
            Kernels.addScaledDifference(base, scale, cond, uncond, into: out, count: n)
            if rescale > 0 { CFGRescale.apply(out, layout: samples, phi: rescale, condStd: s.baseAddress!) }
        }
    }
}

/// Stateless conveniences over `(B, ...)` arrays.
public enum Guidance {
    /// CFG on one step: see `ClassifierFreeGuidance`.
    /// - Parameters: shape `(B, ...)`; scale default 7.5; formulation default `.diffusers`; rescale default 0.
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func cfg<T: BinaryFloatingPoint & Sendable>(
        cond: [T], uncond: [T], shape: [Int], scale: Double = 7.5, formulation: CFGFormulation = .diffusers,
        rescale: Double = 0
    ) throws(GradusError) -> [T] {
        let rule = ClassifierFreeGuidance<T>(scale: scale, formulation: formulation, rescale: rescale)
        var state = try rule.makeState(shape: shape)
        return try rule.update(cond: cond, uncond: uncond, state: &state)
    }

    /// CFG-rescale of a guided prediction against `cond` (see `CFGRescale`).
    /// - Parameter phi: default 0 (no-op).
    @_specialize(where T == Float) @_specialize(where T == Double)
    public static func rescale<T: BinaryFloatingPoint>(_ pred: [T], cond: [T], shape: [Int], phi: Double = 0) throws(GradusError) -> [T] {
        let n = try elementCount(shape)
        guard pred.count == n, cond.count == n else {
            throw .shapeMismatch("rescale: got \(pred.count) and \(cond.count) elements for shape \(shape)")
        }
        guard phi >= 0, phi <= 1 else { throw .invalidArgument("rescale: phi \(phi) outside [0, 1]") }
        var out = pred
        if n == 0 { return out }
        let layout = try ProjectionLayout(shape: shape, dims: nil)
        var scratch = [Double](repeating: 0, count: layout.groupCount)
        cond.withUnsafeBufferPointer { pc in
            out.withUnsafeMutableBufferPointer { po in
                scratch.withUnsafeMutableBufferPointer { s in
                    CFGRescale.apply(po.baseAddress!, cond: pc.baseAddress!, layout: layout, phi: phi, scratch: s.baseAddress!)
                }
            }
        }
        return out
    }
}
