import ArgumentParser
import CBLAS
import Glibc
import Gradus

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark tables: Gradus vs. the hand-written C anchors (and PyTorch when installed), measured in the same run.",
        discussion: "Build the anchors first (`make bench` does both). Ratios are Gradus time / anchor time (lower is better) unless stated.")

    @Option(help: "Directory with the built C anchors (mlp_c, adam_c, stream, qdq_c).") var anchors = ".build-anchors"
    @Option(help: "Thread counts to measure, comma separated.") var threads = "1,2"
    @Option(help: "Timed repetitions per measurement (median reported).") var repeats = 20
    @Option(help: "Sections: matmul,mlp,elementwise,optim,quant,diffusion (comma separated) or all.") var only = "all"
    @Flag(help: "Skip PyTorch even if it is installed.") var noTorch = false

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        guard !counts.isEmpty else { throw CLIError("--threads needs positive integers") }
        guard repeats >= 1 else { throw CLIError("--repeats must be at least 1 (got \(repeats))") }
        let sections = Set(only.split(separator: ",").map(String.init))
        let known: Set = ["all", "matmul", "mlp", "elementwise", "optim", "quant", "diffusion"]
        if let bad = sections.subtracting(known).sorted().first {
            throw CLIError("unknown section '\(bad)' (\(known.sorted().joined(separator: ", ")))")
        }
        func want(_ s: String) -> Bool { sections.contains("all") || sections.contains(s) }
        print("gradus bench — OpenBLAS core \(String(cString: openblas_get_corename())); medians of \(repeats) runs")
        let ctx = BenchContext(anchors: anchors, repeats: repeats, threadCounts: counts, torch: !noTorch && BenchContext.torchAvailable())
        if want("matmul") { try cli { () throws(GradusError) in try ctx.matmul() } }
        if want("mlp") { try cli { () throws(GradusError) in try ctx.mlpStep() } }
        if want("elementwise") { try cli { () throws(GradusError) in try ctx.elementwise() } }
        if want("optim") { try cli { () throws(GradusError) in try ctx.optimizerStep() } }
        if want("quant") { try cli { () throws(GradusError) in try ctx.quant() } }
        if want("diffusion") { try cli { () throws(GradusError) in try ctx.diffusionBench() } }
    }
}

struct BenchContext {
    let anchors: String
    let repeats: Int
    let threadCounts: [Int]
    let torch: Bool

    static func torchAvailable() -> Bool {
        Subprocess.run(["python3", "-c", "import torch"])?.status == 0
    }

    func setThreads(_ n: Int) throws(GradusError) { try Runtime.configure(RuntimeOptions(threadCount: n)) }

    func anchor(_ name: String, _ args: [String], threads: Int) -> [String: Double]? {
        let path = "\(anchors)/\(name)"
        guard access(path, X_OK) == 0 else { return nil }
        guard let r = Subprocess.run([path] + args, environment: ["ANCHOR_CSV": "1", "OMP_NUM_THREADS": "\(threads)"]), r.status == 0
        else { return nil }
        return Subprocess.anchorMetrics(r.output)
    }

    func ratio(_ a: Double?, _ b: Double?) -> String {
        guard let a, let b, b > 0 else { return "n/a" }
        return fmt(a / b, 2) + "×"
    }
    func ms(_ s: Double?) -> String { s.map { fmt($0 * 1e3, 3) } ?? "n/a" }

    // MARK: matmul at MLP shapes vs cblas_sgemm called directly

    func matmul() throws(GradusError) {
        var table = Table(title: "matmul (float32) vs cblas_sgemm called directly — goal ≥ 95% of BLAS throughput",
                          header: ["shape (M×K @ K×N)", "threads", "gradus ms", "sgemm ms", "gradus/sgemm speed"])
        let shapes = [(128, 784, 1024), (128, 1024, 1024), (128, 1024, 10), (1024, 1024, 1024)]
        for n in threadCounts {
            try setThreads(n)
            for (m, k, nn) in shapes {
                let a = Tensor.uniform([m, k], seed: 1), b = Tensor.uniform([k, nn], seed: 2)
                let c = Tensor.zeros([m, nn])
                let tg = try medianTime(repeats: repeats) { () throws(GradusError) in _ = try a.matmul(b) }
                let ap = a.basePointer(as: Float.self), bp = b.basePointer(as: Float.self), cp = c.basePointer(as: Float.self)
                let tb = try medianTime(repeats: repeats) {
                    Runtime.withParallelBLAS {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(nn), Int32(k), 1, ap, Int32(k), bp, Int32(nn), 0, cp, Int32(nn))
                    }
                }
                table.add(["\(m)×\(k) @ \(k)×\(nn)", "\(n)", ms(tg), ms(tb), fmt(100 * tb / tg, 1) + "%"])
            }
        }
        print(table.render())
    }

    // MARK: MLP step

    func mlpStep() throws(GradusError) {
        var table = Table(title: "MLP 784-1024-1024-10 training step, batch 128, Adam — goal ≤ 1.15× the C floor, ≤ 0.5× PyTorch",
                          header: ["threads", "gradus ms", "C floor ms", "gradus/C", "torch ms", "gradus/torch", "gradus loss first→last"])
        for n in threadCounts {
            try setThreads(n)
            let (t, l0, l1) = try MLPBench.run(steps: Swift.max(repeats * 3, 30))
            let c = anchor("mlp_c", ["\(n)", "100"], threads: n)?["mlp_c step,ms"].map { $0 / 1e3 }
            let tt = torch ? TorchBench.mlpStep(threads: n) : nil
            table.add(["\(n)", ms(t), ms(c), ratio(t, c), ms(tt), ratio(t, tt), "\(fmt(l0, 3))→\(fmt(l1, 3))"])
        }
        print(table.render())
    }

    // MARK: elementwise on 10M floats vs memory copy bandwidth

    func elementwise() throws(GradusError) {
        let n = 10_000_000
        var table = Table(title: "elementwise ops on 10M float32 vs memcpy of the same bytes — goal ≥ 80% of copy bandwidth",
                          header: ["op", "threads", "ms", "GB/s", "memcpy GB/s", "% of copy", "STREAM triad GB/s"])
        let a = Tensor.uniform([n], seed: 1), b = Tensor.uniform([n], seed: 2)
        for th in threadCounts {
            try setThreads(th)
            // memcpy of 8 bytes/element (read 4 + write 4), split over the pool like the kernels.
            let dst = Tensor.zeros([n])
            let src = a.basePointer(as: Float.self), d = dst.basePointer(as: Float.self)
            let tc = try medianTime(repeats: repeats) {
                ThreadPool.shared.parallelFor(n, grain: 1 << 16) { r, _ in
                    memcpy(d + r.lowerBound, src + r.lowerBound, r.count * 4)
                }
            }
            let copyBW = 8.0 * Double(n) / tc / 1e9
            let triad = anchor("stream", ["\(n)", "10"], threads: th)?["Triad,median_GB/s"]
            let ops: [(String, Double, () throws(GradusError) -> Void)] = [
                ("relu (r4 w4)", 8, { _ = a.relu() }),
                ("a*2+1 (r4 w4)", 8, { _ = a.affine(2, 1) }),
                ("a+b (r8 w4)", 12, { () throws(GradusError) in _ = try a + b }),
                ("a*b (r8 w4)", 12, { () throws(GradusError) in _ = try a * b }),
                ("sum (r4)", 4, { () throws(GradusError) in _ = try a.sum() }),
            ]
            for (name, bytes, f) in ops {
                let t = try medianTime(repeats: repeats) { () throws(GradusError) in try f() }
                let bw = bytes * Double(n) / t / 1e9
                table.add([name, "\(th)", ms(t), fmt(bw, 1), fmt(copyBW, 1), fmt(100 * bw / copyBW, 0) + "%", triad.map { fmt($0, 1) } ?? "n/a"])
            }
        }
        print(table.render())
    }
}

/// `medianTime` for typed-throwing bodies.
func medianTime(repeats: Int, warmup: Int = 2, _ body: () throws(GradusError) -> Void) throws(GradusError) -> Double {
    for _ in 0..<warmup { try body() }
    var ts: [Double] = []
    for _ in 0..<max(repeats, 1) {
        let t0 = MonotonicTime.now()
        try body()
        ts.append(MonotonicTime.now() - t0)
    }
    ts.sort()
    return ts[ts.count / 2]
}
