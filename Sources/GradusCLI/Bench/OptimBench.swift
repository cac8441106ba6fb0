import Gradus

extension BenchContext {
    /// Bytes per element an optimizer must move in the fused executor (float32): the Adam family reads
    /// `θ, g, m, v` and writes `θ, m, v` (28); diffGrad also reads and writes `g_prev` (+8); ⊥AdamW's dot
    /// products read `g, θ` once more (+8); Stable-SPAM's max pass reads `g` once more (+4: the AdaGN norm rides
    /// along it for every block AdaClip leaves unchanged). SPAM (beyond the issue's six) clips against the `v` Adam
    /// reads anyway (28). AdamP on a vector never projects, so it moves what
    /// Adam moves. The floor of each is `B/elem / 28` times the C Adam's time.
    /// Decoupled decay 1e-2 where the method has it, so its factor is exercised.
    static let optimizerBytes: [(name: String, label: String, bytes: Double, weightDecay: Double)] = [
        ("adam", "Adam", 28, 0), ("adamw", "AdamW", 28, 1e-2), ("diffgrad", "diffGrad", 36, 0), ("adamp", "AdamP", 28, 1e-2),
        ("stable-spam", "Stable-SPAM", 32, 1e-2), ("perp-adamw", "⊥AdamW", 36, 1e-2), ("spam", "SPAM", 28, 0),
    ]
    /// Warm-up steps before timing: SPAM clips only from step A = 20 (its delay), so it is timed from step 26 on.
    static func warmupSteps(_ name: String) -> Int { name == "spam" ? 25 : 2 }

    /// One optimizer step on a single 10M-element float32 parameter, against the fused C Adam (`adam_c`) and the
    /// STREAM triad measured in the same run (and PyTorch's Adam, fused and default, when torch is installed).
    func optimizerBench() throws(GradusError) {
        let n = 10_000_000
        var table = Table(
            title: "optimizer step, one 10M-element float32 tensor — goal ≥ 85% of STREAM triad and ≤ 1.15× the fused C Adam",
            header: ["optimizer", "threads", "ms", "B/elem", "GB/s", "% of triad", "vs C Adam", "floor", "vs floor", "C Adam ms",
                     "triad GB/s", "torch fused ms", "torch default ms"])
        var torchLines: [String] = []
        for th in threadCounts {
            try setThreads(th)
            let triad = anchor("stream", ["\(n)", "10"], threads: th)?["Triad,median_GB/s"]
            let cAdam = anchor("adam_c", ["10"], threads: th)?["adam_fused_c 10 M,ms"].map { $0 / 1e3 }
            for (name, label, bytes, wd) in Self.optimizerBytes {
                let p = Tensor.uniform([n], seed: 1)
                p.grad = Tensor.uniform([n], seed: 2).affine(2e-3, -1e-3)
                let opt = try OptimizerFactory.make(name, parameters: [("p", p)], lr: 1e-3, weightDecay: wd)
                let t = try medianTime(repeats: repeats, warmup: Self.warmupSteps(name)) { () throws(GradusError) in try opt.step() }
                let bw = bytes * Double(n) / t / 1e9
                let torchFused = torch && name == "adam" ? TorchBench.adamStep(count: n, threads: th, fused: true) : nil
                let torchDefault = torch && name == "adam" ? TorchBench.adamStep(count: n, threads: th, fused: false) : nil
                if name == "adam", torchFused != nil || torchDefault != nil {
                    torchLines.append("Adam at \(th) thread\(th == 1 ? "" : "s"): Gradus \(ms(t)) ms; torch fused=True \(ms(torchFused)) ms "
                                      + "(Gradus \(ratio(torchFused, t)) faster), torch default \(ms(torchDefault)) ms (Gradus \(ratio(torchDefault, t)) faster)")
                }
                // The floor: the C Adam's time scaled by the bytes this optimizer must move (B/elem / 28).
                let floor = cAdam.map { $0 * bytes / 28 }
                table.add([label, "\(th)", ms(t), fmt(bytes, 0), fmt(bw, 1), triad.map { fmt(100 * bw / $0, 0) + "%" } ?? "n/a",
                           ratio(t, cAdam), floor == nil ? "n/a" : fmt(bytes / 28, 2) + "×", ratio(t, floor),
                           ms(cAdam), triad.map { fmt($0, 1) } ?? "n/a", ms(torchFused), ms(torchDefault)])
            }
        }
        print(table.render())
        print("B/elem: bytes each optimizer must read and write per element; GB/s = B/elem × 10M / time. "
              + "vs C Adam = time / C Adam time (lower is better). floor = B/elem / 28: the least time relative to the C Adam "
              + "(28 B/elem) for an optimizer that must move more memory (diffGrad's previous gradient, ⊥AdamW's dot-product "
              + "pass, Stable-SPAM's max pass); vs floor = time / (floor × C Adam time). torch = torch.optim.Adam(fused=True) and "
              + "torch.optim.Adam() (its default single-tensor path on CPU), same thread count, medians of 12.")
        for line in torchLines { print(line) }
    }
}
