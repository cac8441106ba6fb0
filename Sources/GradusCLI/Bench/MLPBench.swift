import Gradus

/// The MLP step of the anchor mlp_c.c: 784-1024-1024-10, batch 128, ReLU, softmax cross-entropy, Adam lr 1e-3.
enum MLPBench {
    /// Median seconds per step, first and last loss.
    static func run(steps: Int) throws(GradusError) -> (Double, Double, Double) {
        Init.manualSeed(7)
        let model = SequentialModel([try Linear(784, 1024), ReLU(), try Linear(1024, 1024), ReLU(), try Linear(1024, 10)])
        let opt = try OptimizerFactory.make("adam", parameters: model.namedParameters(), lr: 1e-3)
        let x = Tensor.uniform([128, 784], seed: 3)
        let labels = (0..<128).map { ($0 * 7) % 10 }
        var times: [Double] = []
        var first = 0.0, last = 0.0
        for i in 0..<(steps + 3) {
            let t0 = MonotonicTime.now()
            opt.zeroGrad()
            let loss = try Loss.crossEntropy(try model(x), labels: labels)
            try loss.backward()
            try opt.step()
            let dt = MonotonicTime.now() - t0
            if i >= 3 { times.append(dt) }
            if i == 0 { first = try loss.item() }
            last = try loss.item()
        }
        times.sort()
        return (times[times.count / 2], first, last)
    }
}

/// PyTorch CPU baselines, run in a subprocess when torch is installed.
enum TorchBench {
    static func mlpStep(threads: Int) -> Double? {
        let script = """
        import torch, time
        torch.set_num_threads(\(threads)); torch.manual_seed(0)
        m = torch.nn.Sequential(torch.nn.Linear(784,1024), torch.nn.ReLU(), torch.nn.Linear(1024,1024), torch.nn.ReLU(), torch.nn.Linear(1024,10))
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        x = torch.rand(128, 784); y = torch.arange(128) % 10
        ts = []
        for i in range(60):
            t0 = time.perf_counter(); opt.zero_grad(); l = torch.nn.functional.cross_entropy(m(x), y); l.backward(); opt.step(); ts.append(time.perf_counter() - t0)
        ts = sorted(ts[5:]); print(ts[len(ts)//2])
        """
        guard let r = Subprocess.run(["python3", "-c", script]), r.status == 0 else { return nil }
        return Double(r.output.split(separator: "\n").last.map(String.init) ?? "")
    }

    static func adamStep(count: Int, threads: Int, fused: Bool) -> Double? {
        let script = """
        import torch, time
        torch.set_num_threads(\(threads))
        p = torch.nn.Parameter(torch.rand(\(count))); p.grad = torch.rand(\(count))
        opt = torch.optim.Adam([p], lr=1e-3\(fused ? ", fused=True" : ""))
        ts = []
        for i in range(15):
            t0 = time.perf_counter(); opt.step(); ts.append(time.perf_counter() - t0)
        ts = sorted(ts[3:]); print(ts[len(ts)//2])
        """
        guard let r = Subprocess.run(["python3", "-c", script]), r.status == 0 else { return nil }
        return Double(r.output.split(separator: "\n").last.map(String.init) ?? "")
    }
}
