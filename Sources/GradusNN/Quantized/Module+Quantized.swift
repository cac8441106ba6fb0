import GradusQuant
import GradusRuntime
import GradusTensor

/// A container whose children `Module.quantized(_:)` may replace (user models adopt it; `Sequential` and
/// `SequentialModel` are handled built in). Return a module of the same structure and child names.
public protocol QuantizableContainer: Module {
    /// A copy of this container with each direct child replaced by `transform(name, child)`.
    func replacingChildren(_ transform: (String, Module) throws(GradusError) -> Module) throws(GradusError) -> Module
}

extension Module {
    /// The one switch for low-bit training: every `Linear` and `Conv2d` in the tree (selected by `include`,
    /// given the dotted path and the module) is wrapped in `QuantizedLinear`/`QuantizedConv2d` with
    /// `scheme`; already quantized layers get the new scheme. Parameter names and tensors are unchanged
    /// (the new tree shares them), so optimizers built on `parameters` and checkpoints keep working.
    ///
    /// ```swift
    /// let q = try model.quantized(.stableSPAMInt4(groupSize: 64))
    /// let w4 = try model.quantized(LayerQuantization(QuantConfig(bits: 4, granularity: .perGroup(size: 128)),
    ///                                                activations: QuantConfig(bits: 4, granularity: .perGroup(size: 128))))
    /// ```
    ///
    /// - Returns: the new root (this module itself when nothing changed; a new wrapper when the root is a layer).
    /// - Throws: `invalidArgument` when a quantizer does not fit a layer's weight (the path is in the
    ///   message); `unsupported` when a custom container holds layers to replace but does not adopt
    ///   `QuantizableContainer`.
    public func quantized(_ scheme: LayerQuantization,
                          include: (String, Module) -> Bool = { _, _ in true }) throws(GradusError) -> Module {
        try rebuilt(path: "") { (path, m) throws(GradusError) -> Module? in
            guard include(path, m) else { return nil }
            do throws(GradusError) {
                if let q = m as? QuantizedLayer {
                    switch q.wrapped {
                    case let l as Linear: return try QuantizedLinear(l, quantization: scheme)
                    case let c as Conv2d: return try QuantizedConv2d(c, quantization: scheme)
                    default: return nil
                    }
                }
                if let l = m as? Linear { return try QuantizedLinear(l, quantization: scheme) }
                if let c = m as? Conv2d { return try QuantizedConv2d(c, quantization: scheme) }
            } catch {
                throw .invalidArgument("quantized(): layer '\(path.isEmpty ? "<root>" : path)': \(error.message)")
            }
            return nil
        }
    }

    /// `quantized(LayerQuantization(weights, activations: activations))`.
    public func quantized(_ weights: QuantConfig, activations: QuantConfig? = nil) throws(GradusError) -> Module {
        try quantized(LayerQuantization(weights, activations: activations))
    }

    /// The tree with every quantized layer replaced by the float layer it wraps.
    public func dequantized() throws(GradusError) -> Module {
        try rebuilt(path: "") { (_, m) throws(GradusError) -> Module? in (m as? QuantizedLayer)?.wrapped }
    }

    /// Inference copy with real 4-bit weights: every `Linear` (quantized or not) selected by `include`
    /// becomes a `PackedLinear`. Layers whose input size the group size does not divide stay as they are.
    public func packed(groupSize: Int = 128, format: Packed4BitWeight.Format = .int4Symmetric,
                       include: (String, Module) -> Bool = { _, _ in true }) throws(GradusError) -> Module {
        try rebuilt(path: "") { (path, m) throws(GradusError) -> Module? in
            guard include(path, m) else { return nil }
            let linear = (m as? Linear) ?? ((m as? QuantizedLayer)?.wrapped as? Linear)
            guard let linear, linear.inFeatures % groupSize == 0 else { return nil }
            return try PackedLinear(linear, groupSize: groupSize, format: format)
        }
    }

    /// Every quantized layer in the tree with its dotted path.
    public var quantizedLayers: [(String, QuantizedLayer)] {
        var out: [(String, QuantizedLayer)] = []
        func walk(_ m: Module, _ path: String) {
            if let q = m as? QuantizedLayer { out.append((path, q)) }
            for (n, c) in m.children { walk(c, path.isEmpty ? n : path + "." + n) }
        }
        walk(self, "")
        return out
    }

    /// Sets the estimator of every quantized layer's quantizers (e.g. ReSTE's annealed `o` each epoch).
    public func setQuantEstimator(_ estimator: QuantEstimator) {
        for (_, q) in quantizedLayers { q.quantization = q.quantization.with(estimator: estimator) }
    }

    /// Bytes of packed 4-bit weights in the tree and what they would take in float32.
    public var packedWeightMemory: (packed: Int, dense: Int) {
        var p = 0, d = 0
        func walk(_ m: Module) {
            if let l = m as? PackedLinear { p += l.byteCount; d += l.denseByteCount }
            for (_, c) in m.children { walk(c) }
        }
        walk(self)
        return (p, d)
    }

    /// Rebuilds the tree bottom-up: `replace` returns a substitute for a module (nil keeps it and recurses).
    func rebuilt(path: String, _ replace: (String, Module) throws(GradusError) -> Module?) throws(GradusError) -> Module {
        if let r = try replace(path, self) { r.train(isTraining); return r }
        let kids = children
        guard !kids.isEmpty else { return self }
        var changed = false
        var newKids: [Module] = []
        for (name, c) in kids {
            let n = try c.rebuilt(path: path.isEmpty ? name : path + "." + name, replace)
            if n !== c { changed = true }
            newKids.append(n)
        }
        guard changed else { return self }
        let result: Module
        switch self {
        case is Sequential: result = Sequential(newKids)
        case is SequentialModel:
            guard let body = newKids.first as? Sequential else { throw .internal("SequentialModel body is not Sequential") }
            result = SequentialModel(body.layers)
        case let c as QuantizableContainer:
            var i = 0
            result = try c.replacingChildren { (_, _) throws(GradusError) -> Module in defer { i += 1 }; return newKids[i] }
        default:
            throw .unsupported("quantized(): \(type(of: self)) at '\(path.isEmpty ? "<root>" : path)' holds layers to replace; adopt QuantizableContainer")
        }
        result.train(isTraining)
        return result
    }
}
