import Glibc
import GradusRuntime

/// One recorded operation of the define-by-run graph: its inputs and how to map the gradient of its
/// output to gradients of its inputs. The backward closure is written with tensor operations, so running
/// it while recording (`createGraph: true`) builds the graph of the gradient itself — which is what
/// Hessian-vector products and gradient-norm penalties need.
public final class GradNode: @unchecked Sendable {
    public let name: String
    public let inputs: [Tensor]
    let backward: (Tensor) throws(GradusError) -> [Tensor?]

    init(name: String, inputs: [Tensor], backward: @escaping (Tensor) throws(GradusError) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

private let gradModeKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

/// Per-thread switch for gradient recording (`no_grad` scopes). Two threads training separate models
/// do not see each other's scopes.
public enum GradMode {
    /// Depth of nested no-grad scopes on this thread.
    static var disabledDepth: Int {
        get { Int(bitPattern: pthread_getspecific(gradModeKey)) }
        set { pthread_setspecific(gradModeKey, UnsafeRawPointer(bitPattern: newValue)) }
    }

    /// Whether operations on this thread are recorded.
    public static var isEnabled: Bool { disabledDepth == 0 }

    /// Runs `body` with recording off on this thread.
    public static func withoutGrad<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        disabledDepth += 1
        defer { disabledDepth -= 1 }
        return try body()
    }

    /// Runs `body` with recording on (inside a no-grad scope too).
    public static func withGrad<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let saved = disabledDepth
        disabledDepth = 0
        defer { disabledDepth = saved }
        return try body()
    }

    /// Scope entry/exit for the C ABI and Python, where a closure cannot span the scope.
    public static func pushDisabled() { disabledDepth += 1 }
    public static func popDisabled() { if disabledDepth > 0 { disabledDepth -= 1 } }
}

extension Tensor {
    /// Attaches a graph node to `out` when recording is on and some input needs gradients.
    @inlinable
    func record(_ out: Tensor, _ name: String, _ inputs: [Tensor],
                _ backward: @escaping (Tensor) throws(GradusError) -> [Tensor?]) -> Tensor {
        Tensor.record(out, name, inputs, backward)
    }

    @usableFromInline
    static func record(_ out: Tensor, _ name: String, _ inputs: [Tensor],
                       _ backward: @escaping (Tensor) throws(GradusError) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return out }
        out.requiresGrad = true
        out.gradNode = GradNode(name: name, inputs: inputs, backward: backward)
        return out
    }

    /// Records a user-defined operation with a custom backward — e.g. a straight-through estimator.
    ///
    /// - Parameters:
    ///   - inputs: the tensors the operation depends on.
    ///   - output: the value, computed by the caller (typically under `GradMode.withoutGrad`).
    ///   - backward: maps the output gradient to one gradient per input (nil for none), written with
    ///     tensor operations so it is differentiable itself when recorded.
    public static func custom(name: String, inputs: [Tensor], output: Tensor,
                              backward: @escaping (Tensor) throws(GradusError) -> [Tensor?]) -> Tensor {
        let out = output.detached()
        return record(out, name, inputs, backward)
    }

    /// Reverse-mode differentiation from this tensor: accumulates d(self)/d(leaf) into every leaf's `grad`.
    ///
    /// - Parameters:
    ///   - gradient: seed gradient, same shape as `self`; defaults to ones for a one-element tensor.
    ///   - createGraph: record the backward pass so the gradients can be differentiated again.
    public func backward(gradient: Tensor? = nil, createGraph: Bool = false) throws(GradusError) {
        let seed = try seedGradient(gradient)
        _ = try Tensor.runBackward(roots: [(self, seed)], wrt: nil, createGraph: createGraph, accumulate: true)
    }

    /// Gradients of `outputs` with respect to `inputs` (like `torch.autograd.grad`), without touching `grad`.
    ///
    /// An input that the outputs do not depend on gets a zero tensor (so callers never see nil).
    public static func gradients(of outputs: [Tensor], wrt inputs: [Tensor], gradOutputs: [Tensor?]? = nil,
                                 createGraph: Bool = false) throws(GradusError) -> [Tensor] {
        var roots: [(Tensor, Tensor)] = []
        for (i, o) in outputs.enumerated() {
            let g = gradOutputs.flatMap { i < $0.count ? $0[i] : nil }
            roots.append((o, try o.seedGradient(g)))
        }
        let found = try runBackward(roots: roots, wrt: inputs, createGraph: createGraph, accumulate: false)
        return inputs.map { t in found[ObjectIdentifier(t)] ?? Tensor.zeros(t.shape, dtype: t.dtype) }
    }

    func seedGradient(_ gradient: Tensor?) throws(GradusError) -> Tensor {
        if let gradient {
            guard gradient.shape == shape else {
                throw .shapeMismatch("gradient shape \(gradient.shape) does not match tensor shape \(shape)")
            }
            guard gradient.dtype == dtype else { throw .dtypeMismatch("gradient is \(gradient.dtype), tensor is \(dtype)") }
            return gradient
        }
        guard count == 1 else {
            throw .invalidArgument("backward() without a gradient needs a one-element tensor; shape is \(shape)")
        }
        return Tensor.ones(shape, dtype: dtype)
    }

    /// `g` itself when this is the only reference to it and to its storage and it is a plain dense buffer,
    /// else a copy (not recorded). Add's backward hands one tensor to both inputs, a transpose's backward a
    /// view of its upstream gradient, a caller's seed stays the caller's: all of those are copied.
    static func ownedGradient(_ g: inout Tensor) -> Tensor {
        if g.gradNode == nil, !g.requiresGrad, g.offset == 0, g.isContiguous,
           g.storage.byteCount == g.count * g.dtype.size,
           isKnownUniquelyReferenced(&g), isKnownUniquelyReferenced(&g.storage) {
            return g
        }
        return GradMode.withoutGrad { g.clone() }
    }

    /// The engine: reverse topological walk from the roots.
    static func runBackward(roots: [(Tensor, Tensor)], wrt: [Tensor]?, createGraph: Bool,
                            accumulate: Bool) throws(GradusError) -> [ObjectIdentifier: Tensor] {
        // Topological order by iterative DFS over nodes.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Int)] = []
        for (root, _) in roots where root.requiresGrad {
            if visited.insert(ObjectIdentifier(root)).inserted { stack.append((root, 0)) }
            while let (t, i) = stack.popLast() {
                let inputs = t.gradNode?.inputs ?? []
                if i < inputs.count {
                    stack.append((t, i + 1))
                    let child = inputs[i]
                    if child.requiresGrad, visited.insert(ObjectIdentifier(child)).inserted { stack.append((child, 0)) }
                } else {
                    order.append(t)
                }
            }
        }
        let wanted: Set<ObjectIdentifier>? = wrt.map { Set($0.map(ObjectIdentifier.init)) }
        var grads: [ObjectIdentifier: Tensor] = [:]
        var result: [ObjectIdentifier: Tensor] = [:]

        func add(_ t: Tensor, _ g: Tensor) throws(GradusError) {
            let id = ObjectIdentifier(t)
            if let prev = grads[id] { grads[id] = try prev + g } else { grads[id] = g }
        }

        for (root, seed) in roots where root.requiresGrad { try add(root, seed) }

        let body = { () throws(GradusError) in
            for t in order.reversed() {
                let id = ObjectIdentifier(t)
                // A leaf's first gradient (the usual case: `zeroGrad()` sets `.grad` to nil) becomes its `.grad`
                // without a copy when nothing else can reach that memory; otherwise it is copied, so `.grad`
                // always owns its buffer (an in-place optimizer update must not touch another tensor).
                if wanted == nil, accumulate, !createGraph, t.gradNode == nil, t.grad == nil, t.isLeaf || t.retainsGrad {
                    guard var g = grads.removeValue(forKey: id) else { continue }
                    t.grad = Tensor.ownedGradient(&g)
                    continue
                }
                guard let g = grads[id] else { continue }
                if let wanted {
                    if wanted.contains(id) { result[id] = g }
                } else if t.isLeaf || t.retainsGrad, accumulate {
                    let gc = createGraph ? g : g.detached()
                    // Fix (tensortest): a first gradient used to be stored as is, so `.grad` could share storage with
                    // another leaf's gradient (add's backward returns g for both sides) or with the caller's seed,
                    // and an in-place optimizer update of one corrupted the other. `.grad` now owns its buffer.
                    if let prev = t.grad { t.grad = try (prev + gc).contiguous() } else { t.grad = gc.clone() }
                }
                guard let node = t.gradNode else { continue }
                let inGrads = try node.backward(g)
                for (input, ig) in zip(node.inputs, inGrads) {
                    guard let ig, input.requiresGrad else { continue }
                    guard ig.shape == input.shape else {
                        throw .internal("backward of \(node.name) produced shape \(ig.shape) for input \(input.shape)")
                    }
                    try add(input, ig)
                }
                if wanted == nil { grads[id] = nil }  // free as we go
            }
        }
        if createGraph { try GradMode.withGrad(body) } else { try GradMode.withoutGrad(body) }
        return result
    }
}

/// Gradient checkpointing: runs `function` without storing its intermediates; during backward it is
/// recomputed from `inputs` and differentiated. Parameters captured by `function` receive their gradients
/// in the recomputation.
///
/// Higher-order gradients through a checkpointed segment are not supported (the recomputation is
/// differentiated once); use plain recording where those are needed.
public func checkpoint(_ inputs: [Tensor], _ function: @escaping ([Tensor]) throws(GradusError) -> Tensor) throws(GradusError) -> Tensor {
    let value = try GradMode.withoutGrad { () throws(GradusError) in try function(inputs) }
    // Fix (tensortest): when no input requires grad (the usual first block, fed plain data), no node was
    // recorded and the parameters captured by `function` silently got no gradient. An empty anchor input that
    // requires grad makes the node record whenever recording is on; its gradient is nil.
    let anchor = inputs.contains(where: { $0.requiresGrad }) ? [] : [Tensor.zeros([0], dtype: value.dtype).requiringGrad()]
    return Tensor.custom(name: "checkpoint", inputs: inputs + anchor, output: value) { g throws(GradusError) in
        let replay = inputs.map { $0.detached().requiringGrad($0.requiresGrad) }
        let out = try GradMode.withGrad { () throws(GradusError) in try function(replay) }
        if out.requiresGrad { try out.backward(gradient: g.detached()) }
        return replay.map { $0.grad }
    }
}
