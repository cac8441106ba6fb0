import GradusQuant
import GradusRuntime
import GradusTensor

/// Quantization-aware training from plain option strings (what `gradus train --quant ...`, and any other
/// front end, parses): a format name, an optional group size and granularity, an estimator name, and
/// whether the layer inputs are quantized too. Every bad combination is a `GradusError.invalidArgument`
/// with a message naming the option, never a trap.
public struct QuantTrainingOptions: Sendable, Equatable {
    /// `int2` … `int8` (symmetric integer), `fp4` (E2M1, absmax/6 scale), `mxfp4`, `nf4`, `bnb-fp4`,
    /// `binary` (`sign(W)·mean|W|`, ReSTE's layer), `stable-spam-int4`, `stable-spam-fp4` (spec §2).
    public var format: String
    /// Elements per scale group (`nil`: the format's default).
    public var groupSize: Int?
    /// `tensor`, `channel` (one scale per output row of the weight and per row of the input) or `group`
    /// (`nil`: `group` when a group size is given or the format needs blocks, else `channel`).
    public var granularity: String?
    /// `ste` (default), `clipped-ste` (|x| ≤ 1) or `reste` (o annealed from 1 to `oEnd` over the epochs, t = 1.5).
    public var estimator: String
    /// Quantize each layer's input with the same rule (W·A·); false is weight-only.
    public var quantizesActivations: Bool
    /// ReSTE's final `o` (spec §5.1; 3 in the paper's code).
    public var oEnd: Double

    /// Formats accepted by `format`.
    public static let formats = ["int2", "int3", "int4", "int5", "int6", "int7", "int8", "fp4", "mxfp4", "nf4", "bnb-fp4", "binary",
                                 "stable-spam-int4", "stable-spam-fp4"]

    public init(format: String, groupSize: Int? = nil, granularity: String? = nil, estimator: String = "ste",
                quantizesActivations: Bool = false, oEnd: Double = 3) {
        self.format = format; self.groupSize = groupSize; self.granularity = granularity
        self.estimator = estimator; self.quantizesActivations = quantizesActivations; self.oEnd = oEnd
    }

    /// Binary networks keep their first and last layer in full precision (as ReSTE's and BNN codes do).
    public var keepsFirstAndLastLayer: Bool { format == "binary" }

    /// The estimator at the start of training (ReSTE starts at `o = 1`).
    public func makeEstimator() throws(GradusError) -> QuantEstimator {
        switch estimator {
        case "ste": return .ste
        case "clipped-ste": return .clippedSTE(clip: 1)
        case "reste":
            guard oEnd >= 1 else { throw .invalidArgument("--quant: ReSTE needs o_end ≥ 1 (got \(oEnd))") }
            return .reste(o: 1, t: 1.5)
        default: throw .invalidArgument("--estimator '\(estimator)' is not one of ste, clipped-ste, reste")
        }
    }

    /// The estimator for `epoch` of `epochs`: ReSTE's `o` follows the code's cosine schedule; others are fixed.
    public func scheduledEstimator(epoch: Int, epochs: Int) throws(GradusError) -> QuantEstimator {
        let e = try makeEstimator()
        guard case .reste(_, let t) = e else { return e }
        return .reste(o: try ReSTE.schedule(oEnd: oEnd, epoch: epoch, epochs: epochs), t: t)
    }

    /// The layer quantization these options describe (not yet checked against a model: see `apply(to:)`).
    public func makeLayerQuantization() throws(GradusError) -> LayerQuantization {
        if let g = groupSize, g <= 0 { throw .invalidArgument("--group-size must be positive (got \(g))") }
        let est = try makeEstimator()
        func noEstimator(_ name: String) throws(GradusError) {
            guard estimator == "ste" else {
                throw .invalidArgument("--quant \(name) always uses the straight-through estimator; --estimator \(estimator) does not apply")
            }
        }
        switch format {
        case "stable-spam-int4":
            try noEstimator(format)
            try requireGroups()
            return .stableSPAMInt4(groupSize: groupSize ?? 256)
        case "stable-spam-fp4":
            try noEstimator(format)
            try requireGroups()
            return .stableSPAMFP4(groupSize: groupSize ?? 256)
        case "binary":
            if groupSize != nil || granularity != nil {
                throw .invalidArgument("--quant binary uses one mean-|W| scale per weight; --group-size/--granularity do not apply")
            }
            return .binary(estimator: est, binaryActivations: quantizesActivations)
        default: break
        }
        let (qformat, bits, defaultGroup) = try formatSpec()
        let granularity: QuantGranularity
        switch self.granularity ?? (groupSize != nil || defaultGroup != nil ? "group" : "channel") {
        case "tensor", "channel":
            if let g = groupSize { throw .invalidArgument("--group-size \(g) needs --granularity group (got \(self.granularity ?? "channel"))") }
            if qformat == .mxfp4 { throw .invalidArgument("--quant mxfp4 shares one exponent per block of 32: use --granularity group") }
            granularity = self.granularity == "tensor" ? .perTensor : .perChannel(axis: 0)
        case "group":
            let g = groupSize ?? defaultGroup ?? 128
            if qformat == .mxfp4 && g != 32 { throw .invalidArgument("--quant mxfp4 uses blocks of 32 (got --group-size \(g))") }
            granularity = .perGroup(size: g)
        case let other:
            throw .invalidArgument("--granularity '\(other)' is not one of tensor, channel, group")
        }
        let config = QuantConfig(bits: bits, format: qformat, symmetric: true, granularity: granularity, estimator: est)
        try config.validate(shape: [1, config.groupSizeOrOne])
        return LayerQuantization(config, activations: quantizesActivations ? config : nil)
    }

    /// (format, bits, default group size) of the plain fake-quantization formats.
    private func formatSpec() throws(GradusError) -> (QuantFormat, Int, Int?) {
        switch format {
        case "fp4": return (.fp4E2M1, 4, 32)
        case "mxfp4": return (.mxfp4, 4, 32)
        case "nf4": return (.nf4, 4, 64)
        case "bnb-fp4": return (.bnbFP4, 4, 64)
        default:
            guard format.hasPrefix("int"), let b = Int(format.dropFirst(3)) else {
                throw .invalidArgument("--quant '\(format)' is not one of \(Self.formats.joined(separator: ", "))")
            }
            guard (2...8).contains(b) else {
                throw .invalidArgument("--quant \(format): unsupported bit width \(b) for integer fake quantization (use int2 … int8, or binary for 1 bit)")
            }
            return (.int, b, nil)
        }
    }

    private func requireGroups() throws(GradusError) {
        if let g = granularity, g != "group" { throw .invalidArgument("--quant \(format) quantizes per group; --granularity \(g) does not apply") }
    }

    /// Quantizes every `Linear` of `model` (all but the first and last for `binary`) for training.
    ///
    /// Checks, for each layer, that the group size divides its input size (groups lie inside weight rows,
    /// as torchao and bitsandbytes require) and that the weight quantizer fits.
    /// - Returns: the quantized model and the dotted paths of the quantized layers.
    /// - Throws: `invalidArgument` naming the option and the layer for a bad configuration, or when no
    ///   layer would be quantized.
    public func apply(to model: Module) throws(GradusError) -> (model: Module, layers: [String]) {
        let scheme = try makeLayerQuantization()
        var linears: [(String, Linear)] = []
        func walk(_ m: Module, _ path: String) {
            if let l = (m as? Linear) ?? ((m as? QuantizedLayer)?.wrapped as? Linear) { linears.append((path, l)); return }
            for (n, c) in m.children { walk(c, path.isEmpty ? n : path + "." + n) }
        }
        walk(model, "")
        let selected = keepsFirstAndLastLayer ? Array(linears.dropFirst().dropLast()) : linears
        guard !selected.isEmpty else {
            throw .invalidArgument(keepsFirstAndLastLayer
                ? "--quant binary keeps the first and last layers in full precision; the model has \(linears.count) Linear layer(s), so nothing would be binarized (use at least 2 hidden layers)"
                : "--quant: the model has no Linear layer to quantize")
        }
        for (path, l) in selected {
            if let g = scheme.weights?.groupSize, l.inFeatures % g != 0 {
                throw .invalidArgument("--group-size \(g) does not divide the input size \(l.inFeatures) of layer '\(path)' (Linear \(l.inFeatures)→\(l.outFeatures))")
            }
        }
        let paths = Set(selected.map(\.0))
        let q = try model.quantized(scheme) { path, _ in paths.contains(path) }
        return (q, selected.map(\.0))
    }
}

extension QuantConfig {
    /// The group size for per-group configurations, else 1 (for validating the format alone).
    var groupSizeOrOne: Int {
        if case .perGroup(let g) = granularity { return g }
        return 1
    }
}
