import Foundation
import GradusDiffusion
import GradusRuntime
import Testing
import _GradusTestSupport

/// Spec §1 (noise schedules, zero-terminal-SNR rescale, inference timesteps), §2 (training targets and the
/// conversions from a model output) and §3.3 (flow-matching Euler: shifted sigmas, steps, noising) re-implemented in
/// float64 from the spec's text, with numpy's `linspace` and half-to-even rounding where the spec says numpy. The
/// references reproduce the public cases; random cases in the golden format (other T, N, β ranges, spacings, offsets,
/// shifts, ᾱ down to 1e-5) must pass `GuidanceConformance` in float64 and float32 at the golden tolerances; and one
/// perturbed expectation per op must fail, so the comparison can.
@Suite struct ScheduleReferenceTests {
    // MARK: - references

    /// numpy `linspace(a, b, n)`: `a + k·(b − a)/(n − 1)`, the last value exactly `b`.
    static func linspace(_ a: Double, _ b: Double, _ n: Int) -> [Double] {
        guard n > 1 else { return n == 1 ? [a] : [] }
        let step = (b - a) / Double(n - 1)
        return (0..<n).map { $0 == n - 1 ? b : Double($0) * step + a }
    }

    enum Beta: CaseIterable { case linear, scaledLinear, cosine }

    static func schedule(_ kind: Beta, T: Int, start: Double, end: Double, maxBeta: Double, zeroSNR: Bool)
        -> (betas: [Double], alphaBars: [Double]) {
        var betas: [Double]
        switch kind {
        case .linear: betas = linspace(start, end, T)
        case .scaledLinear: betas = linspace(start.squareRoot(), end.squareRoot(), T).map { $0 * $0 }
        case .cosine:
            func f(_ u: Double) -> Double { let c = cos((u + 0.008) / 1.008 * Double.pi / 2); return c * c }
            betas = (0..<T).map { min(1 - f(Double($0 + 1) / Double(T)) / f(Double($0) / Double(T)), maxBeta) }
        }
        var abar: [Double] = [], product = 1.0
        for b in betas { product *= 1 - b; abar.append(product) }
        if zeroSNR {
            let s = abar.map { $0.squareRoot() }, first = s[0], last = s[T - 1]
            let rescaled = s.map { ($0 - last) * first / (first - last) }.map { $0 * $0 }
            betas = (0..<T).map { 1 - ($0 == 0 ? rescaled[0] : rescaled[$0] / rescaled[$0 - 1]) }
            abar = []
            product = 1
            for b in betas { product *= 1 - b; abar.append(product) }
        }
        return (betas, abar)
    }

    enum Spacing: String, CaseIterable { case leading, trailing, linspace }

    static func timesteps(T: Int, N: Int, spacing: Spacing, offset: Int) -> [Int] {
        switch spacing {
        case .leading: return (0..<N).reversed().map { $0 * (T / N) + offset }
        case .trailing:
            let ratio = Double(T) / Double(N)
            return (0..<N).map { Int((Double(T) - Double($0) * ratio).rounded(.toNearestOrEven)) - 1 }
        case .linspace: return linspace(0, Double(T - 1), N).reversed().map { Int($0.rounded(.toNearestOrEven)) }
        }
    }

    static func shifted(_ sigma: Double, _ k: Double) -> Double { k * sigma / (1 + (k - 1) * sigma) }

    /// Flow sigmas for N steps, the smallest shifted twice (the reference's quirk), then 0.
    static func flowSigmas(N: Int, T: Int, shift: Double) -> [Double] {
        linspace(1, shifted(1 / Double(T), shift), N).map { shifted($0, shift) } + [0]
    }

    // MARK: - helpers

    static func close(_ got: [Double], _ want: [Double], rtol: Double, atol: Double) -> Bool {
        got.count == want.count && zip(got, want).allSatisfy { abs($0 - $1) <= atol + rtol * abs($1) }
    }

    static func expectPasses(_ c: JSON, _ label: String) throws {
        for p in [GuidanceConformance.Precision.float64, .float32] {
            let res = try GuidanceConformance.run(case: c, precision: p)
            #expect(res.status == .pass, "\(label) \(p): \(res)")
        }
    }

    static func expectFails(_ c: JSON, _ label: String) throws {
        let res = try GuidanceConformance.run(case: c, precision: .float64)
        #expect(res.status == .fail, "\(label): a perturbed expectation passed")
    }

    // MARK: - public cases

    @Test func referencesReproducePublicCases() throws {
        let doc = try loadGuidanceGolden()
        var seen: Set<String> = []
        for c in doc["cases"]!.array! {
            let p = c["params"]!, out = c["outputs"]!, id = c["id"]!.string!
            switch c["op"]!.string! {
            case "noise_schedule":
                let kind: Beta = ["linear": .linear, "scaled_linear": .scaledLinear][p["beta_schedule"]!.string!] ?? .cosine
                let s = Self.schedule(kind, T: p["num_train_timesteps"]!.int!, start: p["beta_start"]?.double ?? 1e-4,
                                      end: p["beta_end"]?.double ?? 0.02, maxBeta: 0.999, zeroSNR: p["rescale_betas_zero_snr"]?.bool ?? false)
                let tol = c["tol"]!
                #expect(Self.close(s.betas, out["betas"]!["data"]!.flatDoubles!, rtol: tol["betas"]!["rtol"]!.double!, atol: 1e-9), "\(id) betas")
                #expect(Self.close(s.alphaBars, out["alphas_cumprod"]!["data"]!.flatDoubles!, rtol: 1e-4, atol: 1e-9), "\(id) ᾱ")
            case "inference_timesteps":
                let ts = Self.timesteps(T: p["num_train_timesteps"]!.int!, N: p["num_inference_steps"]!.int!,
                                        spacing: Spacing(rawValue: p["timestep_spacing"]!.string!)!, offset: p["steps_offset"]!.int!)
                #expect(ts == out["timesteps"]!.array!.map { $0.int! }, "\(id)")
            case "ddpm_training_targets":
                let inp = c["inputs"]!, abar = inp["alphas_cumprod_at_t"]!.flatDoubles!
                let x0 = inp["x0"]!["data"]!.flatDoubles!, eps = inp["noise"]!["data"]!.flatDoubles!
                let per = x0.count / abar.count
                let xt = x0.indices.map { abar[$0 / per].squareRoot() * x0[$0] + (1 - abar[$0 / per]).squareRoot() * eps[$0] }
                let v = x0.indices.map { abar[$0 / per].squareRoot() * eps[$0] - (1 - abar[$0 / per]).squareRoot() * x0[$0] }
                #expect(Self.close(xt, out["x_t"]!["data"]!.flatDoubles!, rtol: 1e-5, atol: 1e-5), "\(id) x_t")
                #expect(Self.close(v, out["target_v"]!["data"]!.flatDoubles!, rtol: 1e-5, atol: 1e-5), "\(id) v")
            case "flow_euler_sampler":
                let sigmas = Self.flowSigmas(N: p["num_inference_steps"]!.int!, T: p["num_train_timesteps"]!.int!, shift: p["shift"]!.double!)
                #expect(Self.close(sigmas, out["sigmas"]!["data"]!.flatDoubles!, rtol: 1e-5, atol: 1e-5), "\(id) sigmas")
            default: continue
            }
            seen.insert(c["op"]!.string!)
        }
        #expect(seen.count == 4)
    }

    // MARK: - random cases

    @Test func schedulesAndTimestepsMatchOnRandomCases() throws {
        var r = RandomDraws(seed: 0x5C4E)
        for draw in 0..<80 {
            // Noise schedules
            do {
                let kind = Beta.allCases[r.int(0, 2)], T = [1000, r.int(2, 50), r.int(51, 2000)][r.int(0, 2)]
                let start = r.logUniform(1e-5, 2e-3), end = start * r.uniform(2, 60), maxBeta = [0.999, r.uniform(0.5, 0.999)][r.int(0, 1)]
                let zero = r.int(0, 3) == 0
                let s = Self.schedule(kind, T: T, start: start, end: end, maxBeta: maxBeta, zeroSNR: zero)
                var params: [String: JSON] = ["num_train_timesteps": .number(Double(T)),
                                              "beta_schedule": .string(["linear", "scaled_linear", "squaredcos_cap_v2"][Beta.allCases.firstIndex(of: kind)!]),
                                              "rescale_betas_zero_snr": .bool(zero)]
                if kind == .cosine { params["max_beta"] = .number(maxBeta) } else { params["beta_start"] = .number(start); params["beta_end"] = .number(end) }
                func make(_ betas: [Double]) -> JSON {
                    .object([
                        "id": .string("schedule/random/\(draw)"), "op": .string("noise_schedule"), "params": .object(params), "inputs": .object([:]),
                        "outputs": .object(["betas": goldenTensor([T], betas), "alphas_cumprod": goldenTensor([T], s.alphaBars)]),
                        "tol": .object(["betas": .object(["rtol": .number(zero ? 5e-4 : 2e-6), "atol": .number(1e-9)]),
                                        "alphas_cumprod": .object(["rtol": .number(1e-4), "atol": .number(1e-9)])]),
                    ])
                }
                try Self.expectPasses(make(s.betas), "schedule \(draw) \(kind) T \(T) β \(start)…\(end) zero-SNR \(zero)")
                if draw < 5 {
                    var betas = s.betas
                    betas[T / 2] *= 1.001
                    try Self.expectFails(make(betas), "schedule \(draw)")
                }
            }
            // Inference timesteps
            do {
                let T = [1000, r.int(1, 100), r.int(101, 3000)][r.int(0, 2)], N = [r.int(1, min(T, 60)), r.int(1, T)][r.int(0, 1)]
                let spacing = Spacing.allCases[r.int(0, 2)], offset = spacing == .leading ? r.int(0, 2) : 0
                let ts = Self.timesteps(T: T, N: N, spacing: spacing, offset: offset)
                func make(_ ts: [Int]) -> JSON {
                    .object([
                        "id": .string("timesteps/random/\(draw)"), "op": .string("inference_timesteps"),
                        "params": .object(["num_train_timesteps": .number(Double(T)), "num_inference_steps": .number(Double(N)),
                                           "timestep_spacing": .string(spacing.rawValue), "steps_offset": .number(Double(offset))]),
                        "inputs": .object([:]),
                        "outputs": .object(["timesteps": .array(ts.map { .number(Double($0)) }), "prev_timestep_stride": .number(Double(T / N))]),
                        "tol": .object(["exact": .bool(true)]),
                    ])
                }
                try Self.expectPasses(make(ts), "timesteps \(draw) T \(T) N \(N) \(spacing) offset \(offset)")
                if draw < 5 { try Self.expectFails(make([ts[0] + 1] + ts.dropFirst()), "timesteps \(draw)") }
            }
        }
    }

    @Test func trainingTargetsAndFlowMatchOnRandomCases() throws {
        var r = RandomDraws(seed: 0xF10)
        func normal() -> Double { Double(Float(r.uniform(-1, 1) + r.uniform(-1, 1) + r.uniform(-1, 1))) }
        let tol: JSON = .object(["rtol": .number(1e-5), "atol": .number(1e-5)])
        var flowPerturbed = 0
        for draw in 0..<60 {
            // Training targets, ᾱ per batch element from 1e-5 (the end of a cosine schedule) to 0.9999
            do {
                let shape = [r.int(1, 4), r.int(1, 3), r.int(1, 4)], b = shape[0], per = shape[1] * shape[2], n = b * per
                let abar = (0..<b).map { _ in Double(Float(r.logUniform(1e-5, 0.9999))) }
                let x0 = (0..<n).map { _ in normal() }, eps = (0..<n).map { _ in normal() }, m = (0..<n).map { _ in normal() }
                var xt: [Double] = [], v: [Double] = []
                for i in 0..<n {
                    let a = abar[i / per].squareRoot(), s = (1 - abar[i / per]).squareRoot()
                    xt.append(a * x0[i] + s * eps[i])
                    v.append(a * eps[i] - s * x0[i])
                }
                func mse(_ target: [Double]) -> Double { zip(m, target).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(n) }
                func conversions() -> (x0: [String: [Double]], eps: [String: [Double]]) {
                    var x0s: [String: [Double]] = [:], epss: [String: [Double]] = [:]
                    for kind in ["epsilon", "v_prediction", "sample"] {
                        var px: [Double] = [], pe: [Double] = []
                        for i in 0..<n {
                            let a = abar[i / per].squareRoot(), s = (1 - abar[i / per]).squareRoot()
                            switch kind {
                            case "epsilon": px.append((xt[i] - s * m[i]) / a); pe.append(m[i])
                            case "v_prediction": px.append(a * xt[i] - s * m[i]); pe.append(a * m[i] + s * xt[i])
                            default: px.append(m[i]); pe.append((xt[i] - a * m[i]) / s)
                            }
                        }
                        x0s[kind] = px
                        epss[kind] = pe
                    }
                    return (x0s, epss)
                }
                let conv = conversions()
                var outputs: [String: JSON] = [
                    "x_t": goldenTensor(shape, xt), "target_epsilon": goldenTensor(shape, eps), "target_v": goldenTensor(shape, v),
                    "target_sample": goldenTensor(shape, x0),
                    "mse_loss": .object(["epsilon": .number(mse(eps)), "v_prediction": .number(mse(v)), "sample": .number(mse(x0))]),
                    "x0_from_model_output": .object(conv.x0.mapValues { goldenTensor(shape, $0) }),
                    "eps_from_model_output": .object(conv.eps.mapValues { goldenTensor(shape, $0) }),
                ]
                func make(_ outputs: [String: JSON]) -> JSON {
                    .object([
                        "id": .string("training/random/\(draw)"), "op": .string("ddpm_training_targets"),
                        "params": .object(["num_train_timesteps": .number(1000), "beta_schedule": .string("linear")]),
                        "inputs": .object(["x0": goldenTensor(shape, x0), "noise": goldenTensor(shape, eps), "model_output": goldenTensor(shape, m),
                                           "alphas_cumprod_at_t": .array(abar.map { .number($0) })]),
                        "outputs": .object(outputs), "tol": tol,
                    ])
                }
                try Self.expectPasses(make(outputs), "training targets \(draw) ᾱ \(abar)")
                if draw < 5 {
                    outputs["target_v"] = goldenTensor(shape, v.map { $0 + 1e-3 })
                    try Self.expectFails(make(outputs), "training targets \(draw)")
                }
            }
            // Flow-matching Euler: sigmas, timesteps, a chain with given velocities, noising
            do {
                let T = [1000, r.int(10, 3000)][r.int(0, 1)], N = r.int(1, 30), shift = [1, 3, r.uniform(0.5, 6)][r.int(0, 2)]
                let shape = [r.int(1, 3), r.int(1, 4)], n = shape.reduce(1, *)
                let sigmas = Self.flowSigmas(N: N, T: T, shift: shift)
                var x = (0..<n).map { _ in normal() }
                let velocities = (0..<N).map { _ in (0..<n).map { _ in normal() } }
                var trajectory = [goldenTensor(shape, x)]
                for i in 0..<N {
                    x = zip(x, velocities[i]).map { $0 + (sigmas[i + 1] - sigmas[i]) * $1 }
                    trajectory.append(goldenTensor(shape, x))
                }
                let x0 = (0..<n).map { _ in normal() }, noise = (0..<n).map { _ in normal() }, sigma = Double(Float(r.uniform(0, 1)))
                var outputs: [String: JSON] = [
                    "sigmas": goldenTensor([N + 1], sigmas), "timesteps": goldenTensor([N], sigmas.prefix(N).map { $0 * Double(T) }),
                    "trajectory": .array(trajectory),
                    "x_t_noised": goldenTensor(shape, zip(x0, noise).map { sigma * $1 + (1 - sigma) * $0 }),
                    "target_velocity": goldenTensor(shape, zip(x0, noise).map { $1 - $0 }),
                ]
                func make(_ outputs: [String: JSON]) -> JSON {
                    .object([
                        "id": .string("flow/random/\(draw)"), "op": .string("flow_euler_sampler"),
                        "params": .object(["num_train_timesteps": .number(Double(T)), "shift": .number(shift), "num_inference_steps": .number(Double(N))]),
                        "inputs": .object(["x_init": trajectory[0], "velocities": .array(velocities.map { goldenTensor(shape, $0) }),
                                           "x0": goldenTensor(shape, x0), "noise": goldenTensor(shape, noise), "noising_sigma": .number(sigma)]),
                        "outputs": .object(outputs), "tol": tol,
                    ])
                }
                try Self.expectPasses(make(outputs), "flow \(draw) T \(T) N \(N) shift \(shift)")
                if flowPerturbed < 5, N > 1, abs(shift - 1) > 0.1 {
                    flowPerturbed += 1
                    // The sigmas without the double shift of the smallest one: not the reference's schedule.
                    outputs["sigmas"] = goldenTensor([N + 1], Self.linspace(1, 1 / Double(T), N).map { Self.shifted($0, shift) } + [0])
                    try Self.expectFails(make(outputs), "flow \(draw) single shift")
                }
            }
        }
        #expect(flowPerturbed == 5)
    }
}
