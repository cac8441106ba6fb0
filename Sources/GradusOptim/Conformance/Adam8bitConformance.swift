import GradusRuntime
import GradusQuant

/// This module's 8-bit Adam (`GradientChain.adam8bit` in a `FusedOptimizer`) as the runner of the low-bit golden
/// file's `bnb_adam8bit` cases: `gradus conformance` passes `runner` to `QuantConformance`, so the golden file
/// checks the optimizer users train with (kernel dispatch included), not GradusQuant's oracle.
public enum Adam8bitConformance {
    /// Makes a runner for a case's settings (an `Adam8bitCaseRunnerFactory`).
    public static func runner(_ settings: Adam8bitCaseSettings) throws(GradusError) -> any Adam8bitCaseRunner {
        try FusedRunner(settings)
    }

    struct FusedRunner: Adam8bitCaseRunner {
        let optimizer: FusedOptimizer<Float>
        let count: Int

        init(_ s: Adam8bitCaseSettings) throws(GradusError) {
            let chain = try GradientChain<Float>.adam8bit(
                learningRate: .constant(s.learningRate), betas: (s.beta1, s.beta2), epsilon: s.epsilon,
                weightDecay: s.weightDecay, minQuantizedSize: s.minQuantizedSize, blockSize: s.blockSize)
            optimizer = try FusedOptimizer(chain: chain, shapes: [[s.count]])
            count = s.count
        }

        mutating func step(param: inout [Float], grad: [Float]) throws(GradusError) {
            guard param.count == count, grad.count == count else {
                throw .shapeMismatch("bnb_adam8bit: \(param.count) parameters and \(grad.count) gradients for \(count) elements")
            }
            if count == 0 { return }
            var failure: GradusError?
            param.withUnsafeMutableBufferPointer { pb in
                grad.withUnsafeBufferPointer { gb in
                    do throws(GradusError) {
                        try optimizer.step([ParameterBuffer(values: pb.baseAddress!, gradient: gb.baseAddress!, count: count)])
                    } catch { failure = error }
                }
            }
            if let failure { throw failure }
        }

        func quantizedStates() -> Adam8bitCaseStates? {
            guard let state = optimizer.state(of: AdamPreconditioner8bit<Float>.self, slot: 0, tensor: 0),
                  case .quantized(let q) = state.moments else { return nil }
            return Adam8bitCaseStates(codesM: Array(UnsafeBufferPointer(start: q.codesM, count: q.count)),
                                      absmaxM: Array(UnsafeBufferPointer(start: q.absmaxM, count: q.blockCount)),
                                      codesV: Array(UnsafeBufferPointer(start: q.codesV, count: q.count)),
                                      absmaxV: Array(UnsafeBufferPointer(start: q.absmaxV, count: q.blockCount)))
        }
    }
}
