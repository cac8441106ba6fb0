// Section "Context and threading" of include/gradus.h: the process-wide pool of GradusRuntime
// (ThreadPool.shared, configured through Runtime.configure with a RuntimeOptions).
import GradusRuntime
import _GradusShims

/// The first published layout of gradus_context_options; larger struct_size values (newer headers that
/// appended fields) are accepted and the extra fields ignored.
private let contextOptionsV1Size = MemoryLayout<gradus_context_options>.size
private let maxCPUCount = 8192

private let numaPolicies: [AffinityPolicy] = [.auto, .disabled, .distribute, .isolate, .inherit]
private let pinModes: [PinMode] = [.auto, .never, .always]
private let waitPolicies: [WaitPolicy] = [.auto, .sleep, .hybrid, .spin]

/// Validates a C options struct field by field (before any Swift code that could trap) and converts it.
private func runtimeOptions(_ pointer: UnsafePointer<gradus_context_options>?) throws(GradusError) -> RuntimeOptions {
    let p = try require(pointer, "options")
    let size = p.pointee.struct_size
    guard size >= contextOptionsV1Size, size <= 65536 else {
        throw .invalidArgument("options->struct_size is \(size); fill the struct with gradus_context_options_init")
    }
    let o = p.pointee
    func count(_ v: Int32, _ name: String) throws(GradusError) -> Int? {
        guard v >= 0, v <= GRADUS_MAX_THREADS else {
            throw .invalidArgument("options->\(name) is \(v); expected 0...\(GRADUS_MAX_THREADS) (0 = automatic)")
        }
        return v == 0 ? nil : Int(v)
    }
    func pick<T>(_ table: [T], _ v: Int32, _ name: String, _ prefix: String) throws(GradusError) -> T {
        guard v >= 0, Int(v) < table.count else { throw .invalidArgument("options->\(name) \(v) is not a \(prefix)_* value") }
        return table[Int(v)]
    }
    var r = RuntimeOptions()
    r.threadCount = try count(o.num_threads, "num_threads")
    r.blasThreads = try count(o.blas_threads, "blas_threads")
    r.numa = try pick(numaPolicies, o.numa_policy, "numa_policy", "GRADUS_NUMA_POLICY")
    r.pin = try pick(pinModes, o.pin_mode, "pin_mode", "GRADUS_PIN_MODE")
    r.wait = try pick(waitPolicies, o.wait_policy, "wait_policy", "GRADUS_WAIT_POLICY")
    guard o.spin_us >= 0, Int(o.spin_us) <= RuntimeOptions.maxSpinMicroseconds else {
        throw .invalidArgument("options->spin_us is \(o.spin_us); expected 0...\(RuntimeOptions.maxSpinMicroseconds)")
    }
    r.spinMicroseconds = Int(o.spin_us)
    let n = Int(truncatingIfNeeded: o.cpu_count)
    if let cpus = o.cpus {
        guard n > 0, n <= maxCPUCount else {
            throw .invalidArgument("options->cpu_count is \(o.cpu_count); expected 1...\(maxCPUCount) with a cpus list")
        }
        let list = (0..<n).map { Int(cpus[$0]) }
        if let bad = list.first(where: { $0 < 0 || $0 > CPUList.maxCPU }) {
            throw .invalidArgument("options->cpus holds \(bad); expected 0...\(CPUList.maxCPU)")
        }
        r.cpus = list
    } else if n != 0 {
        throw .invalidArgument("options->cpus is NULL but cpu_count is \(o.cpu_count)")
    }
    r.isVerbose = o.verbose != 0
    return r
}

private func contextDefaults() -> gradus_context_options {
    gradus_context_options(
        struct_size: MemoryLayout<gradus_context_options>.size, num_threads: 0, numa_policy: GRADUS_NUMA_POLICY_AUTO,
        pin_mode: GRADUS_PIN_MODE_AUTO, wait_policy: GRADUS_WAIT_POLICY_AUTO,
        spin_us: Int32(RuntimeOptions().spinMicroseconds), blas_threads: 0, cpus: nil, cpu_count: 0, verbose: 0)
}

@c @implementation public func gradus_context_options_init(_ options: UnsafeMutablePointer<gradus_context_options>?) {
    guard let options else { return }
    OptionsStruct.write(contextDefaults(), to: options, bytes: contextOptionsV1Size)
}

@c @implementation public func gradus_context_options_init_sized(_ options: UnsafeMutablePointer<gradus_context_options>?,
                                                                  _ size: Int) -> gradus_status {
    OptionsStruct.initialize(options, size: size, firstLayout: contextOptionsV1Size, defaults: contextDefaults(), "gradus_context_options")
}

@c @implementation public func gradus_context_configure(_ options: UnsafePointer<gradus_context_options>?) -> gradus_status {
    guarded { () throws(GradusError) in
        try Runtime.configure(try runtimeOptions(options))
    }
}

@c @implementation public func gradus_context_set_num_threads(_ num_threads: Int32) -> gradus_status {
    guarded { () throws(GradusError) in
        guard num_threads >= 0, num_threads <= GRADUS_MAX_THREADS else {
            throw .invalidArgument("num_threads is \(num_threads); expected 0...\(GRADUS_MAX_THREADS) (0 = automatic)")
        }
        var o = ThreadPool.shared.options
        o.threadCount = num_threads == 0 ? nil : Int(num_threads)
        try Runtime.configure(o)
    }
}

@c @implementation public func gradus_context_num_threads(_ out: UnsafeMutablePointer<Int32>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = Int32(truncatingIfNeeded: ThreadPool.shared.threadCount)
    }
}

@c @implementation public func gradus_context_describe(
    _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int, _ out_length: UnsafeMutablePointer<Int>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let plan = Runtime.plan
        var json = plan.json
        if case .object(var fields) = json {
            fields["topology"] = .array(plan.topology.nodes.map { node in
                .object(["node": .number(Double(node.id)), "cpus": .string(CPUList.format(node.cpus))])
            })
            json = .object(fields)
        }
        try copyOut(json.serialized, to: buffer, capacity: capacity, length: out_length)
    }
}
