import GradusRuntime
import GradusTensor

/// Model parameters (and optimizer state) saved as safetensors, readable by the Python `safetensors`
/// package and numpy (`safetensors.numpy.load_file`), and able to load files they write.
///
/// Tensors keep their names (`layers.0.weight`) and dtypes (float32 as F32, float64 as F64). Saving is
/// atomic: temporary file, fsync, rename, so a crash mid-save leaves the previous checkpoint intact.
/// Loading validates the file completely first; malformed files throw `GradusError.format` or `.io`.
///
/// Optimizer state uses the same file: its tensors are stored under `optimizer.` + their name, and
/// scalar state (the step count, hyperparameters) goes in `metadata` as strings.
public struct Checkpoint: @unchecked Sendable {
    /// Prefix of optimizer-state tensor names inside the file.
    public static let optimizerPrefix = "optimizer."

    /// Model parameters by name.
    public var parameters: [String: Tensor]
    /// Optimizer state tensors by name (stored with `optimizerPrefix`).
    public var optimizerState: [String: Tensor]
    /// Free-form string metadata (the safetensors `__metadata__`).
    public var metadata: [String: String]

    public init(parameters: [String: Tensor], optimizerState: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.parameters = parameters
        self.optimizerState = optimizerState
        self.metadata = metadata
    }

    /// Saves named tensors and metadata to `path` atomically.
    public static func save(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws(GradusError) {
        var raw: [String: RawArray] = [:]
        for (name, t) in tensors { raw[name] = try RawArray(tensor: t) }
        try Safetensors.write(SafetensorsContents(tensors: raw, metadata: metadata), to: path)
    }

    /// Loads every tensor of a safetensors file (F32/F16/BF16 as float32, F64 and integers as float64).
    public static func load(_ path: String) throws(GradusError) -> [String: Tensor] {
        try loadWithMetadata(path).tensors
    }

    /// Loads every tensor and the metadata.
    public static func loadWithMetadata(_ path: String) throws(GradusError) -> (tensors: [String: Tensor], metadata: [String: String]) {
        let contents = try Safetensors.read(path)
        var out: [String: Tensor] = [:]
        for (name, a) in contents.tensors { out[name] = try a.tensor() }
        return (out, contents.metadata)
    }

    /// Writes parameters, optimizer state and metadata atomically.
    ///
    /// - Throws: `.invalidArgument` when a parameter name starts with `optimizerPrefix`.
    public func write(to path: String) throws(GradusError) {
        var all = parameters
        for name in parameters.keys where name.hasPrefix(Checkpoint.optimizerPrefix) {
            throw .invalidArgument("parameter name '\(name)' clashes with the optimizer-state prefix")
        }
        for (name, t) in optimizerState { all[Checkpoint.optimizerPrefix + name] = t }
        try Checkpoint.save(all, metadata: metadata, to: path)
    }

    /// Reads a checkpoint, splitting optimizer state from parameters by name prefix.
    public static func read(_ path: String) throws(GradusError) -> Checkpoint {
        let (tensors, metadata) = try loadWithMetadata(path)
        var params: [String: Tensor] = [:]
        var state: [String: Tensor] = [:]
        for (name, t) in tensors {
            if name.hasPrefix(optimizerPrefix) { state[String(name.dropFirst(optimizerPrefix.count))] = t } else { params[name] = t }
        }
        return Checkpoint(parameters: params, optimizerState: state, metadata: metadata)
    }

    /// Copies saved values into existing tensors in place (shapes must match; dtypes convert),
    /// e.g. a model's parameters. Names missing from `source` throw `.notFound` unless `strict` is false.
    public static func assign(_ source: [String: Tensor], into targets: [String: Tensor], strict: Bool = true) throws(GradusError) {
        for (name, target) in targets {
            guard let s = source[name] else {
                if strict { throw .notFound("checkpoint has no tensor '\(name)'") }
                continue
            }
            guard s.shape == target.shape else {
                throw .shapeMismatch("'\(name)': checkpoint shape \(s.shape), target shape \(target.shape)")
            }
            guard target.isContiguous else { throw .invalidState("'\(name)': target tensor is not contiguous") }
            let n = target.count
            switch target.dtype {
            case .float32:
                let v = s.scalars(as: Float.self)
                let p = target.basePointer(as: Float.self)
                for i in 0..<n { p[i] = v[i] }
            case .float64:
                let v = s.scalars(as: Double.self)
                let p = target.basePointer(as: Double.self)
                for i in 0..<n { p[i] = v[i] }
            }
        }
    }
}
