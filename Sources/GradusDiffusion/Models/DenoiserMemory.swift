import GradusRuntime
import GradusNN

/// Up-front memory checks for denoiser forwards: a failed allocation traps, so callers that take a batch size from
/// users (the C ABI, the CLI) refuse a batch that cannot fit before anything is allocated.
public enum DenoiserMemory {
    /// Rough bytes of activations per sample of a forward: about 64 activations per feature of the widest layer.
    public static func bytesPerSample(_ net: any ConditionalDenoiser & Module) -> Int {
        let features: Int
        if let conv = net as? DenoiserConvNet {
            features = 64 * conv.baseWidth * conv.height * conv.width + 4 * conv.sampleShape.reduce(1, *)
        } else if let mlp = net as? DenoiserMLP {
            features = 64 * mlp.hiddenWidth + 4 * mlp.dataDim
        } else {
            features = 64 * net.sampleShape.reduce(1, *)
        }
        return features * net.dtype.size
    }

    /// Throws `outOfMemory` when a forward over `batch` samples needs more than half the machine's physical memory
    /// (by `bytesPerSample`), or `invalidArgument` for a negative batch.
    public static func requireForwardFits(_ net: any ConditionalDenoiser & Module, batch: Int) throws(GradusError) {
        guard batch >= 0 else { throw .invalidArgument("batch size \(batch) is negative") }
        let physical = BufferPool.physicalMemoryBytes
        let (total, overflow) = bytesPerSample(net).multipliedReportingOverflow(by: batch)
        guard !overflow, total <= physical / 2 else {
            throw .outOfMemory("a batch of \(batch) samples needs \(overflow ? "more than \(Int.max)" : "about \(total)") bytes of activations, more than half the machine's \(physical)")
        }
    }
}
