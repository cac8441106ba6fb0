import GradusRuntime

/// Heavy-ball or Nesterov momentum (torch.optim.SGD, SGDP; optax `trace`):
/// `buf ← μ·buf + (1 − dampening)·g`, output `buf` or `g + μ·buf`.
public struct Momentum<Scalar: OptimizerScalar>: ResettableTransform {
    public enum Form: Sendable { case heavyBall, nesterov }
    /// How the first step fills the buffer.
    public enum FirstStep: Sendable {
        /// `buf ← g`, without dampening (torch.optim.SGD).
        case copiesGradient
        /// The general rule from a zero buffer, dampening included (official SGDP).
        case accumulates
    }
    /// Whether later in-place changes of the direction reach the buffer.
    public enum Aliasing: Sendable {
        case none
        /// The buffer receives the chain's final direction (official SGDP without Nesterov projects its
        /// momentum buffer in place, because the direction *is* the buffer there).
        case bufferFollowsUpdate
    }

    public struct State: TransformState {
        public let buffer: StateBuffer<Scalar>
        let shape: [Int]
        var started = false
        var isFirst = false
        public func write(to writer: inout StateWriter) {
            writer.write("momentum_buffer", buffer, shape: shape)
            writer.write("momentum_started", started ? 1 : 0)
        }
        public mutating func read(from reader: StateReader) throws(GradusError) {
            try reader.read("momentum_buffer", into: buffer)
            started = try reader.read("momentum_started") != 0
        }
    }

    public var momentum: Double
    public var dampening: Double
    public var form: Form
    public var firstStep: FirstStep
    public var aliasing: Aliasing

    public init(_ momentum: Double, dampening: Double = 0, form: Form = .heavyBall,
                firstStep: FirstStep = .copiesGradient, aliasing: Aliasing = .none) {
        self.momentum = momentum; self.dampening = dampening; self.form = form
        self.firstStep = firstStep; self.aliasing = aliasing
    }

    public var name: String { "Momentum" }
    public var commitsFinalUpdate: Bool { aliasing == .bufferFollowsUpdate && form == .heavyBall }

    public func makeState(for parameter: ParameterInfo) -> State {
        State(buffer: StateBuffer(count: parameter.count), shape: parameter.shape)
    }

    public func prepare(_ state: inout State, shared: inout EmptyState, context: inout TensorStepContext,
                        rawStatistic: [Double]?) -> StatisticRequest? {
        state.isFirst = !state.started && firstStep == .copiesGradient
        state.started = true
        return nil
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func apply(_ state: State, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                      block: BlockContext<Scalar>) -> Int {
        let buf = state.buffer.base + block.offset
        let mu = Scalar(momentum), c = Scalar(1 - dampening), n = block.count
        let nesterov = form == .nesterov
        var i = 0
        if state.isFirst {
            while i < n { let g = input[i]; buf[i] = g; output[i] = nesterov ? g + mu * g : g; i &+= 1 }
        } else if nesterov {
            while i < n { let g = input[i]; let b = mu * buf[i] + c * g; buf[i] = b; output[i] = g + mu * b; i &+= 1 }
        } else {
            while i < n { let b = mu * buf[i] + c * input[i]; buf[i] = b; output[i] = b; i &+= 1 }
        }
        return 0
    }

    public func commit(_ state: State, update: UnsafePointer<Scalar>, block: BlockContext<Scalar>) {
        (state.buffer.base + block.offset).update(from: update, count: block.count)
    }

    public func reset(_ state: State, block: BlockContext<Scalar>) {
        (state.buffer.base + block.offset).update(repeating: 0, count: block.count)
    }

    public mutating func set(_ hyperparameter: Hyperparameter, to value: Double) -> Bool {
        guard hyperparameter == .momentum else { return false }
        momentum = value; return true
    }
    public func value(of hyperparameter: Hyperparameter) -> Double? { hyperparameter == .momentum ? momentum : nil }
}
