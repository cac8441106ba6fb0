import GradusRuntime
import GradusTensor

/// A building block of a model: owns parameters (tensors that train), buffers (state that does not train,
/// such as batch-norm running statistics) and child modules. Names are stable dotted paths —
/// `layers.0.weight` — built from the child names, so checkpoints and optimizers can refer to them.
open class Module: @unchecked Sendable {
    /// Training mode (dropout active, batch statistics) versus evaluation mode.
    public private(set) var isTraining = true

    public init() {}

    /// Parameters this module owns directly, with their local names. Override in layers.
    open var localParameters: [(String, Tensor)] { [] }
    /// Non-trainable state this module owns directly. Override in layers that keep statistics.
    open var localBuffers: [(String, Tensor)] { [] }
    /// Direct children with their local names. Override in containers.
    open var children: [(String, Module)] { [] }

    /// Replaces a local buffer's value (used by `load(stateDict:)`). Override in layers with buffers.
    open func setBuffer(_ name: String, _ value: Tensor) throws(GradusError) {
        throw .notFound("module has no buffer \(name)")
    }

    /// The forward computation. Layers override this.
    open func forward(_ input: Tensor) throws(GradusError) -> Tensor {
        throw .unsupported("\(type(of: self)) does not implement forward(_:)")
    }

    /// Calls `forward`.
    public func callAsFunction(_ input: Tensor) throws(GradusError) -> Tensor { try forward(input) }

    /// Every parameter in the tree, depth first, with dotted names.
    public func namedParameters(prefix: String = "") -> [(String, Tensor)] {
        var out = localParameters.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
        return out
    }

    /// Every buffer in the tree with dotted names.
    public func namedBuffers(prefix: String = "") -> [(String, Tensor)] {
        var out = localBuffers.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { out += child.namedBuffers(prefix: prefix + name + ".") }
        return out
    }

    /// The parameters in `namedParameters()` order.
    public var parameters: [Tensor] { namedParameters().map(\.1) }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Switches this module and all children to training (true) or evaluation (false) mode.
    public func train(_ on: Bool = true) {
        isTraining = on
        for (_, c) in children { c.train(on) }
    }

    /// Evaluation mode.
    public func eval() { train(false) }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.grad = nil } }

    /// Parameters and buffers by name (shared storage, not copies).
    public func stateDict() -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (n, t) in namedParameters() { d[n] = t }
        for (n, t) in namedBuffers() { d[n] = t }
        return d
    }

    /// Copies values from `state` into the parameters and buffers (shapes must match). With `strict`,
    /// missing or unexpected names are errors.
    public func load(stateDict state: [String: Tensor], strict: Bool = true) throws(GradusError) {
        let params = namedParameters(), buffers = namedBuffers()
        let known = Set(params.map(\.0) + buffers.map(\.0))
        if strict {
            for k in state.keys where !known.contains(k) { throw .notFound("unexpected key \(k) in state dict") }
        }
        for (n, p) in params + buffers {
            guard let v = state[n] else {
                if strict { throw .notFound("missing key \(n) in state dict") }
                continue
            }
            guard v.shape == p.shape else { throw .shapeMismatch("\(n): stored shape \(v.shape), model shape \(p.shape)") }
            GradMode.withoutGrad { Kernels.copy(from: v, to: p) }
        }
    }
}

/// Runs children in order.
public final class Sequential: Module, @unchecked Sendable {
    public private(set) var layers: [Module]

    public init(_ layers: [Module]) { self.layers = layers }
    public convenience init(_ layers: Module...) { self.init(layers) }

    public func append(_ layer: Module) { layers.append(layer) }

    override public var children: [(String, Module)] { layers.enumerated().map { (String($0.offset), $0.element) } }

    override public func forward(_ input: Tensor) throws(GradusError) -> Tensor {
        var x = input
        for l in layers { x = try l(x) }
        return x
    }
}

/// A model whose body is a `Sequential` named `layers` (parameter names `layers.0.weight`, …).
public final class SequentialModel: Module, @unchecked Sendable {
    public let layers: Sequential

    public init(_ layers: [Module]) { self.layers = Sequential(layers) }

    override public var children: [(String, Module)] { [("layers", layers)] }
    override public func forward(_ input: Tensor) throws(GradusError) -> Tensor { try layers(input) }
}
