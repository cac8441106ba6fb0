import GradusRuntime

/// One parameter tensor for a step: its values (updated in place) and its gradient, both contiguous.
public struct ParameterBuffer<Scalar: OptimizerScalar> {
    public var values: UnsafeMutablePointer<Scalar>
    public var gradient: UnsafePointer<Scalar>
    public var count: Int
    public init(values: UnsafeMutablePointer<Scalar>, gradient: UnsafePointer<Scalar>, count: Int) {
        self.values = values; self.gradient = gradient; self.count = count
    }
}

/// Tensors sharing one chain (and so one set of hyperparameters), like a PyTorch param group.
public struct ParameterGroup<Scalar: OptimizerScalar> {
    public var chain: GradientChain<Scalar>
    /// Shapes of the group's tensors, in order.
    public var shapes: [[Int]]
    public init(chain: GradientChain<Scalar>, shapes: [[Int]]) { self.chain = chain; self.shapes = shapes }
}

/// Runs parameter groups of gradient chains on raw buffers, fused: each block of a tensor passes through
/// every transform while it is in cache; a transform that needs a statistic (a norm, dot products) costs
/// one extra pass. Blocks run in parallel on `ThreadPool.shared`. Tensors are numbered over all groups
/// in the order given; `step` takes them in that order.
public final class FusedOptimizer<Scalar: OptimizerScalar> {
    /// Elements per block (per worker, in cache): 4096 (16 KiB of float32; 32 KiB of float64).
    public static var blockSize: Int { 4096 }

    final class Group {
        let chain: GradientChain<Scalar>
        let slots: [AnyTransformSlot<Scalar>]
        let tensors: Range<Int>
        var lastEvents: [Int]
        init(chain: GradientChain<Scalar>, tensors: Range<Int>, infos: [ParameterInfo]) {
            self.chain = chain
            self.slots = chain.makeSlots()
            self.tensors = tensors
            self.lastEvents = Array(repeating: 0, count: slots.count)
            for s in slots { s.makeStates(infos) }
        }
    }

    let groups: [Group]
    /// Every tensor, over all groups.
    public let parameters: [ParameterInfo]
    /// The optimizer step `t` (number of completed steps).
    public private(set) var globalStep = 0
    /// Per-tensor step counters `k`.
    public private(set) var tensorSteps: [Int]
    /// Full-size scratch per tensor, allocated when a chain needs a statistic of an intermediate.
    var scratch: [UnsafeMutablePointer<Scalar>?]
    /// Per-worker block buffers: two for the update (transforms write from one into the other, so no kernel
    /// runs in place, which would defeat its vectorised loop) and the transforms' workspace.
    var workerMemory: UnsafeMutablePointer<Scalar>
    var workerCount: Int

    /// An optimizer over `groups`.
    public init(groups: [ParameterGroup<Scalar>]) throws(GradusError) {
        var infos: [ParameterInfo] = []
        var built: [Group] = []
        for g in groups {
            let start = infos.count
            var groupInfos: [ParameterInfo] = []
            for s in g.shapes {
                guard s.allSatisfy({ $0 >= 0 }) else { throw .invalidArgument("negative dimension in shape \(s)") }
                let info = ParameterInfo(index: infos.count, shape: s)
                infos.append(info); groupInfos.append(info)
            }
            // Slots index states by position in the group.
            let local = groupInfos.enumerated().map { ParameterInfo(index: $0.offset, shape: $0.element.shape) }
            built.append(Group(chain: g.chain, tensors: start..<infos.count, infos: local))
        }
        self.groups = built
        self.parameters = infos
        self.tensorSteps = Array(repeating: 0, count: infos.count)
        self.scratch = Array(repeating: nil, count: infos.count)
        self.workerCount = 0
        self.workerMemory = .allocate(capacity: 1)
    }

    /// An optimizer with one group.
    public convenience init(chain: GradientChain<Scalar>, shapes: [[Int]]) throws(GradusError) {
        try self.init(groups: [ParameterGroup(chain: chain, shapes: shapes)])
    }

    deinit {
        for s in scratch { s?.deallocate() }
        workerMemory.deallocate()
    }

    /// Number of groups.
    public var groupCount: Int { groups.count }

    /// Events (clipped entries) each transform of `group` reported during the last step, in chain order.
    public func lastStepEvents(group: Int = 0) -> [Int] { groups[group].lastEvents }

    /// Sets a hyperparameter on every transform of `group` (all groups when nil) that has it.
    /// Returns false when no transform has it.
    @discardableResult
    public func set(_ hyperparameter: Hyperparameter, to value: Double, group: Int? = nil) throws(GradusError) -> Bool {
        guard value.isFinite else { throw .invalidArgument("\(hyperparameter) must be finite, got \(value)") }
        if let g = group, !(0..<groups.count).contains(g) { throw .invalidArgument("no parameter group \(g)") }
        var any = false
        for (i, g) in groups.enumerated() where group == nil || group == i {
            for s in g.slots where s.set(hyperparameter, value) { any = true }
        }
        return any
    }

    /// The value of a hyperparameter in `group` (first transform that has it).
    public func value(of hyperparameter: Hyperparameter, group: Int = 0) -> Double? {
        groups[group].slots.lazy.compactMap { $0.value(hyperparameter) }.first
    }

    /// Clears every state (as if no step had run).
    public func reset() {
        globalStep = 0
        for i in tensorSteps.indices { tensorSteps[i] = 0 }
        for g in groups {
            let infos = g.tensors.map { ParameterInfo(index: $0 - g.tensors.lowerBound, shape: parameters[$0].shape) }
            for s in g.slots { s.makeStates(infos) }
        }
    }

    // MARK: Step

    /// Applies one step to `parameters` (one buffer per tensor, in order) using their gradients.
    public func step(_ buffers: [ParameterBuffer<Scalar>]) throws(GradusError) {
        guard buffers.count == parameters.count else {
            throw .invalidArgument("step needs \(parameters.count) parameter buffers, got \(buffers.count)")
        }
        for (i, b) in buffers.enumerated() where b.count != parameters[i].count {
            throw .shapeMismatch("parameter \(i) has \(b.count) elements, expected \(parameters[i].count) (shape \(parameters[i].shape))")
        }
        ensureWorkerMemory()
        globalStep += 1
        for g in groups { run(group: g, buffers: buffers) }
    }

    func ensureWorkerMemory() {
        let n = ThreadPool.shared.threadCount
        if n > workerCount {
            workerMemory.deallocate()
            workerMemory = .allocate(capacity: n * 3 * Self.blockSize)
            workerCount = n
        }
    }

    func ensureScratch(_ p: Int) -> UnsafeMutablePointer<Scalar> {
        if let s = scratch[p] { return s }
        let s = UnsafeMutablePointer<Scalar>.allocate(capacity: Swift.max(1, parameters[p].count))
        scratch[p] = s
        return s
    }

    /// Where the current update of a tensor lives between passes.
    enum Source { case gradient, scratch }

    func run(group g: Group, buffers: [ParameterBuffer<Scalar>]) {
        let t = globalStep
        let slots = g.slots
        let n = slots.count
        let lr = slots.lazy.compactMap { $0.learningRate(t) }.first ?? 0
        let local = g.tensors.map { ParameterInfo(index: $0 - g.tensors.lowerBound, shape: parameters[$0].shape) }
        var contexts: [TensorStepContext] = []
        for (j, p) in g.tensors.enumerated() {
            tensorSteps[p] += 1
            contexts.append(TensorStepContext(globalStep: t, tensorStep: tensorSteps[p], learningRate: lr, parameter: local[j]))
        }
        g.lastEvents = Array(repeating: 0, count: n)

        // 1. Statistics of the raw gradient and weights, one pass per tensor for all transforms.
        var raw = Array(repeating: [[Double]?](repeating: nil, count: n), count: local.count)
        var requests = Array(repeating: [StatisticRequest?](repeating: nil, count: n), count: local.count)
        for j in local.indices {
            requests[j] = slots.map { $0.rawStatistic(j, local[j]) }
            if requests[j].contains(where: { $0 != nil }) {
                raw[j] = rawPass(slots: slots, j: j, buffer: buffers[g.tensors.lowerBound + j], info: local[j], requests: requests[j])
            }
        }
        for i in 0..<n {
            var global: [Double]? = nil
            for j in local.indices {
                guard let r = requests[j][i], r.scope == .global, let v = raw[j][i] else { continue }
                global = global.map { Self.combine($0, v, r.reduction) } ?? v
            }
            if let gl = global {
                for j in local.indices where requests[j][i]?.scope == .global { raw[j][i] = gl }
            }
            slots[i].beginStep(t, global)
        }

        // 2. Prepare each transform in order; run the passes its input statistics need.
        var source = Array(repeating: Source.gradient, count: local.count)
        var segmentStart = Array(repeating: 0, count: local.count)
        var scales = Array(repeating: [Double](repeating: 1, count: n), count: local.count)
        var identity = Array(repeating: [Bool](repeating: false, count: n), count: local.count)
        // Per tensor: block statistics the last pass gathered for the transform after it (`BlockStatistics`).
        var ahead = [BlockStatistics?](repeating: nil, count: local.count)
        for i in 0..<n {
            var wants: [(Int, StatisticRequest)] = []
            for j in local.indices {
                contexts[j].outputScale = 1
                contexts[j].isIdentity = false
                if let r = slots[i].prepare(j, &contexts[j], raw[j][i]) { wants.append((j, r)) }
                scales[j][i] = contexts[j].outputScale
                identity[j][i] = contexts[j].isIdentity
            }
            guard !wants.isEmpty else { continue }
            var stats: [Int: [Double]] = [:]
            var global: [Double]? = nil
            for (j, r) in wants {
                let p = g.tensors.lowerBound + j
                var gather: BlockStatistics? = nil
                if i + 1 < n, slots[i].isRecomputable, let next = slots[i + 1].anticipatedInputStatistic(local[j]) {
                    gather = BlockStatistics(slot: i, blocks: blockCount(local[j].count), ownWidth: r.count, next: next)
                }
                let s = inputPass(group: g, j: j, p: p, through: i, request: r, buffer: buffers[p], info: local[j],
                                  source: &source[j], segmentStart: &segmentStart[j], scales: scales[j],
                                  identity: identity[j], gather: gather, ahead: ahead[j])
                if gather != nil { ahead[j] = gather }
                stats[j] = s
                if r.scope == .global { global = global.map { Self.combine($0, s, r.reduction) } ?? s }
            }
            for (j, r) in wants {
                contexts[j].outputScale = scales[j][i]
                contexts[j].isIdentity = identity[j][i]
                slots[i].absorb(j, &contexts[j], r.scope == .global ? global! : stats[j]!)
                scales[j][i] = contexts[j].outputScale
                identity[j][i] = contexts[j].isIdentity
                // ⊥Grad with g nearly parallel to w: ‖g⊥‖ from g⊥ itself (one more pass, only then).
                if let projection = slots[i] as? TransformSlot<OrthogonalProjection<Scalar>>,
                   projection.states[j].pendingExactNorm != nil {
                    let p = g.tensors.lowerBound + j, k = projection.states[j].coefficient
                    let s = inputPass(group: g, j: j, p: p, through: i, request: StatisticRequest(count: 1), buffer: buffers[p],
                                      info: local[j], source: &source[j], segmentStart: &segmentStart[j], scales: scales[j],
                                      identity: identity[j]) { acc, x, ctx in
                        OrthogonalProjection<Scalar>.accumulatePerpendicularNormSquared(acc, input: x, coefficient: k, block: ctx)
                    }
                    OrthogonalProjection<Scalar>.absorbExactNorm(&projection.states[j], perpendicularNormSquared: s[0])
                }
            }
        }

        // 3. The remaining transforms and the parameter update, one fused pass per tensor.
        for j in local.indices {
            let p = g.tensors.lowerBound + j
            // The block statistics of the segment's first transform, taken on the same source, let unchanged
            // blocks skip it (Stable-SPAM: AdaClip on blocks without a spike).
            let skip = ahead[j].flatMap { $0.isFilled && $0.slot == segmentStart[j] ? $0 : nil }
            finalPass(group: g, j: j, p: p, buffer: buffers[p], info: local[j], source: source[j],
                      from: segmentStart[j], scales: scales[j], identity: identity[j], context: contexts[j], skip: skip)
            tensorSteps[p] = contexts[j].tensorStep
        }
    }

    static func combine(_ a: [Double], _ b: [Double], _ r: StatisticReduction) -> [Double] {
        var out = a
        for k in out.indices { out[k] = r == .sum ? out[k] + b[k] : Swift.max(out[k], b[k]) }
        return out
    }

    func blockCount(_ n: Int) -> Int { (n + Self.blockSize - 1) / Self.blockSize }

    /// Runs `body(block index, worker)` over the blocks of a tensor of `count` elements, with one
    /// zeroed accumulator of `width` doubles per block, and returns the accumulators reduced in block order:
    /// the same sums as one thread running every block into one accumulator, whatever the thread count
    /// (per-worker accumulators made the last bits depend on how blocks were split between workers).
    func parallelBlocks(count: Int, width: Int, reductions: [StatisticReduction],
                        _ body: (_ block: Int, _ worker: Int, _ acc: UnsafeMutablePointer<Double>) -> Void) -> [Double] {
        let workers = workerCount, blocks = blockCount(count)
        let acc = UnsafeMutablePointer<Double>.allocate(capacity: Swift.max(1, blocks * width))
        acc.initialize(repeating: 0, count: Swift.max(1, blocks * width))
        defer { acc.deallocate() }
        ThreadPool.shared.parallelFor(blocks, grain: 1) { range, worker in
            let w = Swift.min(worker, workers - 1)
            for b in range { body(b, w, acc + b * width) }
        }
        var out = Array(repeating: 0.0, count: width)
        for b in 0..<blocks {
            for k in 0..<width {
                let v = acc[b * width + k]
                out[k] = (b == 0) ? v : (reductions[k] == .sum ? out[k] + v : Swift.max(out[k], v))
            }
        }
        return out
    }

    func blockContext(_ b: Int, count: Int, theta: UnsafeMutablePointer<Scalar>, worker: Int, info: ParameterInfo) -> BlockContext<Scalar> {
        let offset = b * Self.blockSize
        return BlockContext(offset: offset, count: Swift.min(Self.blockSize, count - offset),
                            parameters: UnsafePointer(theta + offset),
                            workspace: workerMemory + (worker * 3 + 2) * Self.blockSize, parameter: info)
    }

    func rawPass(slots: [AnyTransformSlot<Scalar>], j: Int, buffer: ParameterBuffer<Scalar>, info: ParameterInfo,
                 requests: [StatisticRequest?]) -> [[Double]?] {
        var offsets: [Int] = []
        var reductions: [StatisticReduction] = []
        for r in requests {
            offsets.append(reductions.count)
            if let r { reductions += Array(repeating: r.reduction, count: r.count) }
        }
        let total = parallelBlocks(count: info.count, width: reductions.count, reductions: reductions) { b, w, acc in
            let ctx = blockContext(b, count: info.count, theta: buffer.values, worker: w, info: info)
            for (i, r) in requests.enumerated() where r != nil {
                slots[i].accumulateRaw(j, acc + offsets[i], buffer.gradient + ctx.offset, ctx)
            }
        }
        return requests.enumerated().map { i, r in r.map { Array(total[offsets[i] ..< offsets[i] + $0.count]) } }
    }

    /// One transform of a segment that changes the update this step, with the pending scalar factor it must
    /// see applied first (nil: none, or it is scale-equivariant and the factor passes through it).
    struct Stage {
        let slot: Int
        let prescale: Double?
    }

    /// The transforms of `segment` that touch memory this step and the scalar factor left at its end,
    /// resolved once per tensor and pass (not per block).
    func plan(_ slots: [AnyTransformSlot<Scalar>], segment: Range<Int>, scales: [Double], identity: [Bool]) -> (stages: [Stage], scale: Double) {
        var stages: [Stage] = []
        var pending = 1.0
        for i in segment {
            let s = slots[i]
            if !s.modifiesUpdate || identity[i] { pending *= scales[i]; continue }
            var prescale: Double? = nil
            if !s.isScaleEquivariant && pending != 1 { prescale = pending; pending = 1 }
            stages.append(Stage(slot: i, prescale: prescale))
            pending *= scales[i]
        }
        return (stages, pending)
    }

    /// Worker `w`'s two update buffers.
    @inline(__always)
    func updateBuffers(_ w: Int) -> (UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>) {
        let a = workerMemory + w * 3 * Self.blockSize
        return (a, a + Self.blockSize)
    }

    /// Runs `stages` on one block, alternating between the worker's two buffers; returns where the result is
    /// (the plan's pending factor still to be applied).
    /// `skip`: block statistics of the first stage's transform, taken on this same input; the stage is skipped
    /// on block `block` when it leaves that block unchanged.
    @inline(__always)
    func runStages(_ stages: ArraySlice<Stage>, slots: [AnyTransformSlot<Scalar>], j: Int, input: UnsafePointer<Scalar>,
                   buffers: (UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>), ctx: BlockContext<Scalar>,
                   events: EventCounter?, worker: Int, skip: BlockStatistics? = nil, block: Int = 0) -> UnsafePointer<Scalar> {
        var current = input
        for st in stages {
            if let k = skip, st.slot == k.slot, st.prescale == nil, current == input,
               slots[st.slot].leavesBlockUnchanged(j, k.own + block * k.ownWidth) { continue }
            var out = current == UnsafePointer(buffers.0) ? buffers.1 : buffers.0
            if let c = st.prescale {
                Kernels.scale(current, by: Scalar(c), into: out, count: ctx.count)
                current = UnsafePointer(out)
                out = current == UnsafePointer(buffers.0) ? buffers.1 : buffers.0
            }
            let e = slots[st.slot].apply(j, current, out, ctx)
            if e != 0, let events { events.add(e, slot: st.slot, worker: worker) }
            current = UnsafePointer(out)
        }
        return current
    }

    /// Computes the statistic transform `i` needs of its input. When the transforms between the last barrier
    /// and `i` change the update, they run on each block first: recomputed from the source when they keep no
    /// state (their output is then computed again in a later pass, costing no memory traffic), otherwise
    /// materialised into the tensor's scratch.
    ///
    /// `gather`: also take, per block, transform `i`'s own statistic and the one `i + 1` anticipates (only when the
    /// statistic comes straight from the source). `ahead`: what the previous pass gathered; when the only stage
    /// before `i` is that pass's transform and it leaves a block unchanged, the block's statistic is taken from
    /// there instead of recomputing the stage (the sums combine in the same order, so the result is identical).
    func inputPass(group g: Group, j: Int, p: Int, through i: Int, request: StatisticRequest, buffer: ParameterBuffer<Scalar>,
                   info: ParameterInfo, source: inout Source, segmentStart: inout Int, scales: [Double],
                   identity: [Bool], gather: BlockStatistics? = nil, ahead: BlockStatistics? = nil,
                   accumulate custom: ((UnsafeMutablePointer<Double>, UnsafePointer<Scalar>, BlockContext<Scalar>) -> Void)? = nil) -> [Double] {
        let slots = g.slots
        // The statistic: transform `i`'s own, or `custom` (a second statistic of the same input).
        @inline(__always) func accumulateInput(_ acc: UnsafeMutablePointer<Double>, _ x: UnsafePointer<Scalar>, _ ctx: BlockContext<Scalar>) {
            if let custom { custom(acc, x, ctx) } else { slots[i].accumulateInput(j, acc, x, ctx) }
        }
        let (stages, pending) = plan(slots, segment: segmentStart..<i, scales: scales, identity: identity)
        let reductions = Array(repeating: request.reduction, count: request.count)
        let from: UnsafePointer<Scalar> = source == .gradient ? buffer.gradient : UnsafePointer(ensureScratch(p))
        let width = request.count, isSum = request.reduction == .sum
        if stages.isEmpty && pending == 1 {
            segmentStart = i
            if let gather {
                let ownWidth = gather.ownWidth, nextWidth = gather.next.count
                defer { gather.isFilled = true }
                // Stable-SPAM: AdaClip's max |g| and AdaGN's Σg² in one loop over the block (`Kernels.spikeStatistics`).
                let spikeStatistics = slots[i] is TransformSlot<SpikeClipping<Scalar>>
                    && slots[i + 1] is TransformSlot<GradientNormalization<Scalar>>
                return parallelBlocks(count: info.count, width: width, reductions: reductions) { b, w, acc in
                    let ctx = blockContext(b, count: info.count, theta: buffer.values, worker: w, info: info)
                    let own = gather.own + b * ownWidth, next = gather.nextStatistics + b * nextWidth
                    if spikeStatistics {
                        let s = Kernels.spikeStatistics(from + ctx.offset, count: ctx.count)
                        own[0] = Swift.max(own[0], s.maxMagnitude)
                        next[0] += s.sumOfSquares
                    } else {
                        slots[i].accumulateInput(j, own, from + ctx.offset, ctx)
                        slots[i + 1].accumulateInput(j, next, from + ctx.offset, ctx)
                    }
                    for k in 0..<width { acc[k] = isSum ? acc[k] + own[k] : Swift.max(acc[k], own[k]) }
                }
            }
            return parallelBlocks(count: info.count, width: width, reductions: reductions) { b, w, acc in
                let ctx = blockContext(b, count: info.count, theta: buffer.values, worker: w, info: info)
                accumulateInput(acc, from + ctx.offset, ctx)
            }
        }
        if stages.allSatisfy({ slots[$0.slot].isRecomputable }) {
            var reuse: BlockStatistics? = nil
            if let a = ahead, a.isFilled, a.slot + 1 == i, a.next == request, pending == 1, stages.count == 1,
               stages[0].slot == a.slot, stages[0].prescale == nil {
                reuse = a
            }
            return parallelBlocks(count: info.count, width: width, reductions: reductions) { b, w, acc in
                if let a = reuse, slots[a.slot].leavesBlockUnchanged(j, a.own + b * a.ownWidth) {
                    let known = a.nextStatistics + b * width
                    for k in 0..<width { acc[k] = isSum ? acc[k] + known[k] : Swift.max(acc[k], known[k]) }
                    return
                }
                let ctx = blockContext(b, count: info.count, theta: buffer.values, worker: w, info: info)
                let bufs = updateBuffers(w)
                var x = runStages(stages[...], slots: slots, j: j, input: from + ctx.offset, buffers: bufs, ctx: ctx,
                                  events: nil, worker: w)
                if pending != 1 {
                    let out = x == UnsafePointer(bufs.0) ? bufs.1 : bufs.0
                    Kernels.scale(x, by: Scalar(pending), into: out, count: ctx.count)
                    x = UnsafePointer(out)
                }
                accumulateInput(acc, x, ctx)
            }
        }
        let dest = ensureScratch(p)
        let events = EventCounter(slots.count, workers: workerCount)
        defer { events.add(to: &g.lastEvents); events.release() }
        let stat = parallelBlocks(count: info.count, width: request.count, reductions: reductions) { b, w, acc in
            let ctx = blockContext(b, count: info.count, theta: buffer.values, worker: w, info: info)
            let out = dest + ctx.offset
            let x = runStages(stages[...], slots: slots, j: j, input: from + ctx.offset, buffers: updateBuffers(w), ctx: ctx,
                              events: events, worker: w)
            Kernels.scale(x, by: Scalar(pending), into: out, count: ctx.count)
            accumulateInput(acc, UnsafePointer(out), ctx)
        }
        source = .scratch
        segmentStart = i
        return stat
    }

    /// The remaining transforms and `θ ← (a·θ + c·u)·b`, one pass per tensor. When the last transform that changes
    /// the update fuses the parameter update into its own loop (Adam), it writes `θ` directly.
    func finalPass(group g: Group, j: Int, p: Int, buffer: ParameterBuffer<Scalar>, info: ParameterInfo, source: Source,
                   from start: Int, scales: [Double], identity: [Bool], context: TensorStepContext,
                   skip: BlockStatistics? = nil) {
        let slots = g.slots
        let (stages, pending) = plan(slots, segment: start..<slots.count, scales: scales, identity: identity)
        let from: UnsafePointer<Scalar> = source == .gradient ? buffer.gradient : UnsafePointer(ensureScratch(p))
        let committers = slots.indices.filter { slots[$0].commitsFinalUpdate }
        let fused = committers.isEmpty && (stages.last.map { slots[$0.slot].fusesParameterUpdate } ?? false)
        let head = fused ? stages.dropLast() : stages[...]
        let lastFusesInputScale = fused && slots[stages[stages.count - 1].slot].fusesInputScale
        let pre = Scalar(context.preUpdateFactor), post = Scalar(context.postUpdateFactor), c = Scalar(pending)
        let events = EventCounter(slots.count, workers: workerCount)
        defer { events.add(to: &g.lastEvents); events.release() }
        // ⊥AdamW: ⊥Grad's projection straight before Adam runs inside Adam's kernel, on the θ it loads anyway
        // (`AdamPreconditioner.applyUpdatingProjected`), instead of a loop writing the projected block first.
        if fused, head.count == 1, head[0].prescale == nil, skip?.slot != head[0].slot,
           stages[stages.count - 1].prescale == nil || lastFusesInputScale,
           AdamPreconditioner<Scalar>.foldsIntoAVX2Kernel,
           let projection = slots[head[0].slot] as? TransformSlot<OrthogonalProjection<Scalar>>,
           let adam = slots[stages[stages.count - 1].slot] as? TransformSlot<AdamPreconditioner<Scalar>> {
            let state = adam.states[j], p = projection.states[j]
            let k = Scalar(p.coefficient), r = Scalar(p.rescale)
            let inputScale = Scalar(stages[stages.count - 1].prescale ?? 1)
            ThreadPool.shared.parallelFor(blockCount(info.count), grain: 1) { range, worker in
                let w = Swift.min(worker, workerCount - 1)
                let bufs = updateBuffers(w)
                for b in range {
                    let ctx = blockContext(b, count: info.count, theta: buffer.values, worker: w, info: info)
                    let update = ParameterUpdate(parameters: buffer.values + ctx.offset, scale: c, preFactor: pre,
                                                 postFactor: post, scratch: bufs.0, inputScale: inputScale)
                    adam.transform.applyUpdatingProjected(state, input: from + ctx.offset, coefficient: k, scale: r,
                                                          update: update, block: ctx)
                }
            }
            return
        }
        // A lone Adam stage (Adam, AdamW) fusing the update: one call of the elementwise AVX2 kernel per worker's
        // range of blocks instead of one per block (the same call the loop below makes, on a longer range, so the
        // same bits). Measured on an EPYC with AVX2 (10M elements, `gradus bench --only optim`): per-block calls
        // made the kernel itself run ~1.45× slower than the same calls from a plain loop (9.2–9.8 vs 6.4–7.3 ms,
        // interleaved medians; cause not pinned down); ranged, Adam's step went 10.2–11.3 → 6.5 ms at one thread
        // (0.86× the fused C Adam) and 7.1 → 3.4 ms at two (1.04×).
        if fused, head.isEmpty, skip == nil, stages[0].prescale == nil || lastFusesInputScale,
           AdamPreconditioner<Scalar>.foldsIntoAVX2Kernel,
           let adam = slots[stages[0].slot] as? TransformSlot<AdamPreconditioner<Scalar>> {
            let inputScale = Scalar(stages[0].prescale ?? 1), state = adam.states[j]
            ThreadPool.shared.parallelFor(blockCount(info.count), grain: 1) { range, worker in
                let w = Swift.min(worker, workerCount - 1)
                let first = blockContext(range.lowerBound, count: info.count, theta: buffer.values, worker: w, info: info)
                let end = Swift.min(info.count, range.upperBound * Self.blockSize)
                let ctx = BlockContext(offset: first.offset, count: end - first.offset, parameters: first.parameters,
                                       workspace: first.workspace, parameter: info)
                let update = ParameterUpdate(parameters: buffer.values + ctx.offset, scale: c, preFactor: pre, postFactor: post,
                                             scratch: updateBuffers(w).0, inputScale: inputScale)
                _ = adam.transform.applyUpdating(state, input: from + ctx.offset, weights: nil, update: update, block: ctx)
            }
            return
        }
        ThreadPool.shared.parallelFor(blockCount(info.count), grain: 1) { range, worker in
            let w = Swift.min(worker, workerCount - 1)
            let bufs = updateBuffers(w)
            for b in range {
                let ctx = blockContext(b, count: info.count, theta: buffer.values, worker: w, info: info)
                var u = runStages(head, slots: slots, j: j, input: from + ctx.offset, buffers: bufs, ctx: ctx,
                                  events: events, worker: w, skip: skip, block: b)
                let theta = buffer.values + ctx.offset
                if fused {
                    let last = stages[stages.count - 1]
                    var spare = u == UnsafePointer(bufs.0) ? bufs.1 : bufs.0
                    var inputScale: Scalar = 1
                    if let s = last.prescale {
                        if lastFusesInputScale {
                            inputScale = Scalar(s)
                        } else {
                            Kernels.scale(u, by: Scalar(s), into: spare, count: ctx.count)
                            u = UnsafePointer(spare)
                            spare = u == UnsafePointer(bufs.0) ? bufs.1 : bufs.0
                        }
                    }
                    let update = ParameterUpdate(parameters: theta, scale: c, preFactor: pre, postFactor: post, scratch: spare,
                                                 inputScale: inputScale)
                    let e = slots[last.slot].applyUpdating(j, u, update, ctx)
                    if e != 0 { events.add(e, slot: last.slot, worker: w) }
                } else {
                    for k in committers { slots[k].commit(j, u, ctx) }
                    Kernels.applyUpdate(theta, update: u, scale: c, preFactor: pre, postFactor: post, count: ctx.count)
                }
            }
        }
    }
}

/// Per-block statistics of one tensor, taken in the statistic pass of transform `slot`: its own (`ownWidth` per
/// block) and the statistic transform `slot + 1` anticipates (`next.count` per block), each accumulated from zero.
final class BlockStatistics {
    let slot: Int
    let ownWidth: Int
    let next: StatisticRequest
    let own: UnsafeMutablePointer<Double>
    let nextStatistics: UnsafeMutablePointer<Double>
    /// Set once a pass has filled the buffers.
    var isFilled = false
    init(slot: Int, blocks: Int, ownWidth: Int, next: StatisticRequest) {
        self.slot = slot; self.ownWidth = ownWidth; self.next = next
        own = .allocate(capacity: Swift.max(1, blocks * ownWidth))
        own.initialize(repeating: 0, count: Swift.max(1, blocks * ownWidth))
        nextStatistics = .allocate(capacity: Swift.max(1, blocks * next.count))
        nextStatistics.initialize(repeating: 0, count: Swift.max(1, blocks * next.count))
    }
    deinit { own.deallocate(); nextStatistics.deallocate() }
}

/// Per-worker event counts (no sharing between workers while blocks run).
final class EventCounter: @unchecked Sendable {
    let slots: Int
    let counts: UnsafeMutablePointer<Int>
    let workers: Int
    init(_ slots: Int, workers: Int) {
        self.slots = slots; self.workers = workers
        counts = .allocate(capacity: Swift.max(1, slots * workers))
        counts.initialize(repeating: 0, count: Swift.max(1, slots * workers))
    }
    func add(_ n: Int, slot: Int, worker: Int) { counts[worker * slots + slot] += n }
    func add(to totals: inout [Int]) {
        for w in 0..<workers { for s in 0..<slots { totals[s] += counts[w * slots + s] } }
    }
    func release() { counts.deallocate() }
}

extension FusedOptimizer {
    /// The typed state of transform `slot` of `group` for the group's tensor `tensor`, when the slot holds a `T`.
    public func state<T: GradientTransform>(of type: T.Type, group: Int = 0, slot: Int, tensor: Int) -> T.State? where T.Scalar == Scalar {
        guard groups.indices.contains(group), groups[group].slots.indices.contains(slot),
              let s = groups[group].slots[slot] as? TransformSlot<T>, s.states.indices.contains(tensor) else { return nil }
        return s.states[tensor]
    }

    // MARK: Serialization

    /// Every state as named entries: `"step"`, `"state.<i>.step"` (the tensor counter `k`), the transforms'
    /// fields as `"state.<i>.<field>"` (tensor `i` over all groups) and shared fields as `"group.<g>.<field>"`.
    public func stateEntries() -> [StateEntry] {
        var out = [StateEntry(name: "step", shape: [], values: [Double(globalStep)])]
        for (gi, g) in groups.enumerated() {
            var shared = StateWriter(prefix: "group.\(gi).")
            for s in g.slots { s.writeShared(&shared) }
            out += shared.entries
            for (j, p) in g.tensors.enumerated() {
                var w = StateWriter(prefix: "state.\(p).")
                w.write("step", Double(tensorSteps[p]))
                for s in g.slots { s.write(j, &w) }
                out += w.entries
            }
        }
        return out
    }

    /// Restores a state written by `stateEntries()` of an optimizer with the same groups and shapes.
    /// Every step counter is checked before any state changes: a missing, negative, fractional, NaN, infinite or
    /// huge (above 2⁵³) counter throws `GradusError` instead of trapping in `Int(_:)`.
    public func loadState(_ entries: [StateEntry]) throws(GradusError) {
        var byName: [String: StateEntry] = [:]
        for e in entries { byName[e.name] = e }
        guard let stored = byName["step"]?.values.first else { throw .notFound("optimizer state has no 'step' entry") }
        let step = try Self.stepCounter(stored, name: "step")
        var steps = tensorSteps
        for g in groups {
            for p in g.tensors {
                steps[p] = try Self.stepCounter(try StateReader(prefix: "state.\(p).", entries: byName).read("step"),
                                                name: "state.\(p).step")
            }
        }
        for (gi, g) in groups.enumerated() {
            for s in g.slots { try s.readShared(StateReader(prefix: "group.\(gi).", entries: byName)) }
            for (j, p) in g.tensors.enumerated() {
                let r = StateReader(prefix: "state.\(p).", entries: byName)
                for s in g.slots { try s.read(j, r) }
            }
        }
        tensorSteps = steps
        globalStep = step
    }

    /// A stored step counter as an `Int`: a whole number in `0...2⁵³` (NaN, ∞ and values past `Int.max` would trap
    /// in `Int(_:)`; above 2⁵³ a Double no longer holds every integer).
    static func stepCounter(_ value: Double, name: String) throws(GradusError) -> Int {
        guard value.isFinite, value >= 0, value <= 9_007_199_254_740_992, value == value.rounded(.towardZero) else {
            throw .invalidArgument("optimizer state entry '\(name)' must be a whole number in 0...2^53, got \(value)")
        }
        return Int(value)
    }
}
