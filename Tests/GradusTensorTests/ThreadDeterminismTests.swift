// Same results, bit for bit, with 1 and 2 pool threads. The shared pool is process-wide (and other suites
// read its plan), so rather than reconfigure it under their feet this runs the test binary again, once with
// GRADUS_NUM_THREADS=1 and once with 2, executing only `TensorThreadChild`, which prints a digest of the bit
// patterns of a battery of results sized past the kernels' parallel grains.
import Foundation
import GradusRuntime
import GradusTensor
import Testing

/// FNV-1a over the bit patterns of every value (as stored: float32 or float64).
func digest(_ tensors: [Tensor]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ v: UInt64) { h = (h ^ v) &* 0x0000_0100_0000_01b3 }
    for t in tensors {
        mix(UInt64(t.count))
        if t.dtype == .float32 { for v in t.scalars(as: Float.self) { mix(UInt64(v.bitPattern)) } }
        else { for v in t.scalars(as: Double.self) { mix(v.bitPattern) } }
    }
    return h
}

/// The battery: elementwise (dense, transposed, broadcast), copies, every reduction path, random fills, matmul and a
/// backward pass, in both dtypes.
func threadBattery() throws -> [Tensor] {
    var out: [Tensor] = []
    for dtype in [DType.float32, .float64] {
        let x = Tensor.normal([300, 700], seed: 1, dtype: dtype), y = Tensor.normal([300, 700], seed: 2, dtype: dtype)
        let row = Tensor.uniform([700], low: 0.5, high: 1.5, seed: 3, dtype: dtype)
        let xt = try x.transposed()
        out += [x.exp(), xt.tanh(), x.sigmoid(), try x + y, try x * row, try Tensor.maximum(xt, y.transposed()), xt.contiguous()]
        out += [try x.sum(), try x.sum(axis: 0), try x.sum(axis: 1), try xt.sum(axis: 1), try x.max(axis: 0).values,
                try x.logSumExp(axes: [1]), try x.mean(axes: [0, 1]), try Tensor.normal([400_000], seed: 4, dtype: dtype).sum()]
        out.append(Tensor(shape: [300], scalars: try x.argmax(axis: 1).map(Double.init), dtype: .float64))
        out += [Tensor.uniform([300_001], seed: 5, dtype: dtype), Tensor.normal([300_001], seed: 6, dtype: dtype)]
        let w = Tensor.normal([700, 64], seed: 7, dtype: dtype).requiringGrad()
        let loss = try x.matmul(w).tanh().logSoftmax().mean()
        try loss.backward()
        out += [loss, w.grad!]
        // Products large enough to be cut into column tiles and spread over the pool (forward and backward),
        // and a batched product whose items run in parallel.
        let wide = Tensor.normal([1040, 700], seed: 8, dtype: dtype).requiringGrad()
        let bias = Tensor.normal([1040], seed: 9, dtype: dtype).requiringGrad()
        let xin = x.requiringGrad()
        let z = try Tensor.linear(xin, weight: wide, bias: bias)
        try z.tanh().sum().backward()
        let batched = try Tensor.normal([8, 64, 100], seed: 10, dtype: dtype).matmul(Tensor.normal([8, 100, 300], seed: 11, dtype: dtype))
        out += [z, wide.grad!, bias.grad!, xin.grad!, batched, try x.matmul(Tensor.normal([700, 1100], seed: 12, dtype: dtype))]
        // Tall, narrow products cut into row tiles (plain and with a transposed A, as in a weight gradient).
        let tall = Tensor.normal([1001, 200], seed: 13, dtype: dtype), narrow = Tensor.normal([200, 113], seed: 14, dtype: dtype)
        out += [try tall.matmul(narrow), try tall.transposed().matmul(Tensor.normal([1001, 113], seed: 15, dtype: dtype))]
    }
    return out
}

@Suite struct TensorThreadChild {
    @Test func printDigest() throws {
        guard ProcessInfo.processInfo.environment["GRADUS_TENSOR_THREAD_CHILD"] == "1" else { return }
        print("TENSOR-DIGEST threads=\(ThreadPool.shared.threadCount) digest=\(digest(try threadBattery()))")
    }
}

@Suite struct ThreadDeterminismTests {
    func runChild(threads: Int) throws -> String {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["--testing-library", "swift-testing", "--filter", "TensorThreadChild"]
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("GRADUS_") { env[key] = nil }
        env["SWIFT_BACKTRACE"] = "enable=no"
        env["GRADUS_TENSOR_THREAD_CHILD"] = "1"
        env["GRADUS_NUM_THREADS"] = "\(threads)"
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus == 0, "child with \(threads) threads:\n\(output)")
        guard let line = output.split(separator: "\n").first(where: { $0.contains("TENSOR-DIGEST") }) else {
            Issue.record("no digest from the child with \(threads) threads:\n\(output)")
            return ""
        }
        #expect(line.contains("threads=\(threads) "), "\(line)")
        return String(line.split(separator: " ").last ?? "")
    }

    @Test func oneAndTwoThreadsGiveBitwiseIdenticalResults() throws {
        let one = try runChild(threads: 1), two = try runChild(threads: 2)
        #expect(!one.isEmpty && one == two, "1 thread: \(one), 2 threads: \(two)")
    }
}
